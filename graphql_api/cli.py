"""The `graphql-api` command: serve, migrate, create users, export the schema."""

import asyncio
import getpass
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

app = typer.Typer(
    help="graphql_api: a GraphQL API server for users, items, short URLs and chat.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def fail(message: str) -> typer.Exit:
    typer.secho(f"Error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def settings_or_exit():  # type: ignore[no-untyped-def]
    """Settings from the environment; a bad configuration is a message, not a traceback."""
    from graphql_api.core.settings import load_settings

    try:
        return load_settings()
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()]
        raise fail("invalid configuration\n  " + "\n  ".join(lines)) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[
        bool, typer.Option(help="Restart when the code changes (development).")
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Serve the API (run `migrate` first)."""
    import uvicorn

    settings = settings_or_exit()  # refuse to start on a bad configuration, with a message
    if workers > 1 and settings.broker_url.startswith("memory://"):
        raise fail(
            "several workers need a broker they share: set BROKER_URL=redis://host:6379/0 "
            "(with memory:// one process cannot tell the others about changes)"
        )
    uvicorn.run(
        "graphql_api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        proxy_headers=True,
        server_header=False,
        access_log=access_log,
        ws_max_size=settings.ws_max_message_bytes,
    )


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations (creates the SQLite file if needed)."""
    from graphql_api.core.migrate import upgrade

    settings = settings_or_exit()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        upgrade(settings, revision)
    except Exception as exc:  # a CLI reports; the traceback helps nobody here
        raise fail(f"migration failed: {exc}") from None
    typer.echo(f"Database is at revision {revision}.")


@app.command("new-migration")
def new_migration(
    message: Annotated[str, typer.Argument(help="What the migration changes.")],
) -> None:
    """Write a migration from the difference between the models and a migrated database."""
    from alembic import command

    from graphql_api.core.migrate import alembic_config

    try:
        command.revision(alembic_config(settings_or_exit()), message=message, autogenerate=True)
    except Exception as exc:  # a CLI reports; the traceback helps nobody here
        raise fail(f"could not write the migration: {exc}") from None


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Email address.")],
    username: Annotated[str, typer.Option(help="Username.")],
    password: Annotated[
        str | None, typer.Option(help="Password; asked for when omitted (safer).")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
) -> None:
    """Create a user, for example the first admin."""
    from graphql_api.core.db import create_engine, create_sessionmaker, write_transaction
    from graphql_api.core.errors import InvalidInput
    from graphql_api.core.passwords import PasswordHasher
    from graphql_api.users import service
    from graphql_api.users.models import Role

    settings = settings_or_exit()
    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise fail("the passwords differ")

    async def run() -> None:
        engine = create_engine(settings)
        try:
            async with write_transaction(create_sessionmaker(engine)) as session:
                await service.register(
                    session,
                    hasher=PasswordHasher(settings),
                    email=email,
                    username=username,
                    password=password,
                    role=Role.ADMIN if admin else Role.USER,
                )
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except InvalidInput as exc:
        raise fail("; ".join(e.message for e in exc.errors)) from None
    typer.echo(f"Created {'admin' if admin else 'user'} {username}.")


@app.command("export-schema")
def export_schema(
    output: Annotated[
        Path | None, typer.Option(help="File to write; standard output when omitted.")
    ] = None,
) -> None:
    """Print the GraphQL schema (SDL), as committed in schema.graphql."""
    from graphql_api.core.settings import Settings
    from graphql_api.schema import build_schema

    sdl = build_schema(Settings(introspection=True)).as_str() + "\n"
    if output is None:
        sys.stdout.write(sdl)
    else:
        output.write_text(sdl)


def main() -> None:
    app()
