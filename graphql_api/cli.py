"""The `graphql-api` command: serve, migrate, users, seed, links, the SDL, manifests."""

import asyncio
import ctypes
import getpass
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

if TYPE_CHECKING:  # imported where used: each command loads only what it needs
    from graphql_api.core.db.engine import Sessionmaker
    from graphql_api.core.settings import Settings
    from graphql_api.links.service import LinkRules

app = typer.Typer(
    help="graphql_api: a GraphQL API server for users, items, short URLs and chat.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


# glibc's malloc gives each thread that allocates an arena of its own (up to 8 per core), and
# what is freed in one arena serves only that one. SQLite's worker threads and the executor's
# allocate in bursts, so each arena keeps a high-water mark of its own and resident memory
# wanders. `scripts/bench --soak`, growth from round 2 to 5: +2.0, +7.1 and -1.4% with
# glibc's default, -1.3, +0.7 and +0.8% with two arenas, at the same speed (users pages:
# 698/s either way; items 1,592 against 1,546/s).
MALLOC_ARENAS = "MALLOC_ARENA_MAX"  # glibc's variable (or GLIBC_TUNABLES): the operator's wins
M_ARENA_MAX = -8  # mallopt's parameter for it (malloc.h)


def few_malloc_arenas(arenas: int = 2) -> None:
    """At most `arenas` malloc arenas in this process and in the workers it starts, on glibc,
    unless the operator chose a number. Call it before the process starts threads."""
    chosen = MALLOC_ARENAS in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")
    if chosen or platform.libc_ver()[0] != "glibc":
        return
    os.environ[MALLOC_ARENAS] = str(arenas)  # each worker's C library reads it as it starts
    ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas)  # this process has read it already


# prometheus_client's variable (core.metrics); not imported here, as it is read on import.
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
PUBLIC_URL = "GRAPHQL_API_PUBLIC_URL"


@contextmanager
def shared_metrics(several_workers: bool) -> Iterator[None]:
    """With several workers, a fresh folder where each writes its metrics for /metrics to sum
    (core.metrics); kept if the operator chose one."""
    if not several_workers or os.environ.get(METRICS_DIR):
        yield
        return
    folder = tempfile.mkdtemp(prefix="graphql-api-metrics-")
    os.environ[METRICS_DIR] = folder  # the workers inherit it
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fail(message: str) -> typer.Exit:
    typer.secho(f"Error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@asynccontextmanager
async def _data_session(settings: "Settings") -> AsyncIterator[tuple["Sessionmaker", "LinkRules"]]:
    """A sessionmaker on the configured database, and the rules short links follow."""
    from graphql_api.app import create_app, reserved_codes
    from graphql_api.core.db.engine import create_engine, create_sessionmaker
    from graphql_api.links.service import LinkRules
    from graphql_api.state import own_hosts

    rules = LinkRules(
        own_hosts=own_hosts(settings),
        reserved_codes=reserved_codes(create_app(settings), settings),
    )
    engine = create_engine(settings)
    try:
        yield create_sessionmaker(engine), rules
    finally:
        await engine.dispose()


def settings_or_exit() -> "Settings":
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
    few_malloc_arenas()
    settings = settings_or_exit()  # refuse to start on a bad configuration, with a message
    if workers > 1 and settings.broker_url.startswith("memory://"):
        raise fail(
            "several workers need a broker they share: set BROKER_URL=redis://host:6379/0 "
            "(with memory:// one process cannot tell the others about changes)"
        )
    if "public_url" not in settings.model_fields_set:  # neither the environment nor .env
        from graphql_api.core.settings import served_url

        # Short links on the address served. Each worker (and a reloaded process) reads
        # its settings anew: the environment, which they inherit, tells them.
        os.environ[PUBLIC_URL] = served_url(host, port)
    import uvicorn

    from graphql_api.core.logs import logging_config

    with shared_metrics(workers > 1 and not reload):
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
            log_config=logging_config(settings),
        )


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations (creates the SQLite file if needed)."""
    from graphql_api.core.db.migrate import upgrade

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
    """Write a migration from the difference between the models and a migrated database:
    `000N_message.py`, laid out like the committed ones and formatted by ruff."""
    from alembic import command

    from graphql_api.core.db.migrate import alembic_config, next_revision_id

    config = alembic_config(settings_or_exit())
    try:
        with warnings.catch_warnings():  # SQLite cannot compare the expression indexes
            warnings.filterwarnings("ignore", ".*expression-based index")
            script = command.revision(
                config, message=message, autogenerate=True, rev_id=next_revision_id()
            )
    except Exception as exc:  # a CLI reports; the traceback helps nobody here
        raise fail(f"could not write the migration: {exc}") from None
    path = str(script.path)  # type: ignore[union-attr]  # one head: one script
    for args in (["check", "--fix", "--exit-zero", "--quiet", "--select", "I,F401"], ["format"]):
        ruff = subprocess.run([sys.executable, "-m", "ruff", *args, path], capture_output=True)
        if ruff.returncode != 0:
            typer.echo(f"ruff did not run on {path}: tidy it by hand.", err=True)
            break


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
    from graphql_api.core.db.engine import write_transaction
    from graphql_api.core.errors import InvalidInput
    from graphql_api.core.security.passwords import PasswordHasher
    from graphql_api.users import service
    from graphql_api.users.models import Role

    settings = settings_or_exit()
    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise fail("the passwords differ")

    async def run() -> None:
        async with (
            _data_session(settings) as (sessionmaker, _),
            write_transaction(sessionmaker) as session,
        ):
            await service.register(
                session,
                hasher=PasswordHasher(settings),
                email=email,
                username=username,
                password=password,
                role=Role.ADMIN if admin else Role.USER,
            )

    try:
        asyncio.run(run())
    except InvalidInput as exc:
        raise fail("; ".join(e.message for e in exc.errors)) from None
    typer.echo(f"Created {'admin' if admin else 'user'} {username}.")


@app.command()
def seed(
    users: Annotated[int, typer.Option(min=1, max=100_000, help="Demo users to make.")] = 10,
    items: Annotated[int, typer.Option(min=0, max=100, help="Items per user.")] = 5,
    links: Annotated[int, typer.Option(min=0, max=100, help="Short links per user.")] = 3,
    prefix: Annotated[str, typer.Option(help="Usernames are PREFIX1, PREFIX2, ...")] = "demo",
    password: Annotated[str, typer.Option(help="Every demo user's password.")] = "demo-password",
) -> None:
    """Fill the database with demo users (with items and short links) and a `general` room."""
    from graphql_api import demo
    from graphql_api.core.db.engine import write_transaction
    from graphql_api.core.errors import InvalidInput
    from graphql_api.core.security.passwords import PasswordHasher

    settings = settings_or_exit()
    if settings.is_production:
        raise fail("seed makes accounts with a known password: not in production")

    async def run() -> bool:
        async with _data_session(settings) as (sessionmaker, rules):
            async with sessionmaker() as session:
                await demo.check(session, prefix=prefix, password=password)
            # One hash for all: argon2id takes a tenth of a second each, by design.
            password_hash = await PasswordHasher(settings).hash(password)
            made = []
            with typer.progressbar(length=users, label="Seeding users", file=sys.stderr) as bar:
                for start in range(1, users + 1, demo.USERS_PER_TRANSACTION):
                    async with write_transaction(sessionmaker) as session:
                        made += await demo.seed_users(
                            session,
                            start=start,
                            count=min(demo.USERS_PER_TRANSACTION, users + 1 - start),
                            prefix=prefix,
                            password_hash=password_hash,
                            items_each=items,
                            links_each=links,
                            rules=rules,
                            done=lambda: bar.update(1),
                        )
            async with write_transaction(sessionmaker) as session:
                return await demo.seed_room(session, creator=made[0])

    try:
        room_made = asyncio.run(run())
    except InvalidInput as exc:
        raise fail("; ".join(e.message for e in exc.errors)) from None
    typer.echo(
        f"Made {users} users ({prefix}1 to {prefix}{users}, password {password!r}) with "
        f"{items} items and {links} short links each"
        + (f", and the {demo.ROOM!r} room." if room_made else ".")
    )


@app.command("import-links")
def import_links(
    file: Annotated[Path, typer.Argument(help="CSV: url, code, title, tags (a|b), expiresAt.")],
    owner: Annotated[str, typer.Option(help="Username of the links' owner.")],
) -> None:
    """Import short links from a CSV file; rows that cannot be imported are listed."""
    from graphql_api.core.db.engine import write_transaction
    from graphql_api.core.errors import ErrorCode, InvalidInput
    from graphql_api.links.importer import import_rows, parse_csv
    from graphql_api.users.service import find_by_login

    settings = settings_or_exit()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None

    async def run() -> tuple[int, list[str]]:
        rows = parse_csv(data, max_rows=None)
        async with (
            _data_session(settings) as (sessionmaker, rules),
            write_transaction(sessionmaker) as session,
        ):
            user = await find_by_login(session, login=owner)
            if user is None:
                raise InvalidInput.single("owner", ErrorCode.NOT_FOUND, f"no user {owner!r}")
            with typer.progressbar(length=len(rows), label="Importing", file=sys.stderr) as bar:
                created, errors = await import_rows(
                    session, owner=user, rows=rows, rules=rules, progress=lambda: bar.update(1)
                )
        return len(created), [e.message for e in errors]

    try:
        imported, rejected = asyncio.run(run())
    except InvalidInput as exc:
        raise fail("; ".join(e.message for e in exc.errors)) from None
    typer.echo(f"Imported {imported} links from {file}.")
    if rejected:
        typer.secho(f"Rejected {len(rejected)} rows:", fg=typer.colors.RED, err=True)
        for message in rejected:
            typer.echo(f"  {message}", err=True)
        raise typer.Exit(code=1)


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


@app.command("trusted-manifest")
def trusted_manifest(
    files: Annotated[list[Path], typer.Argument(help=".graphql files with named operations.")],
    output: Annotated[
        Path | None, typer.Option(help="File to write; standard output when omitted.")
    ] = None,
) -> None:
    """Write a trusted-documents manifest (Apollo's format) of the operations in FILES."""
    from graphql_api.core.graphql.documents.manifest import build_manifest
    from graphql_api.core.graphql.internals import graphql_core_schema
    from graphql_api.core.manifest import ManifestError
    from graphql_api.core.settings import Settings
    from graphql_api.schema import build_schema

    try:
        sources = [file.read_text() for file in files]
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read the operations: {exc}") from None
    # Checked against the schema alone, whatever the environment configures.
    schema = graphql_core_schema(build_schema(Settings(introspection=True, trusted_documents=None)))
    try:
        manifest = build_manifest(sources, schema)
    except ManifestError as exc:
        raise fail(str(exc)) from None
    text = json.dumps(manifest, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


def main() -> None:
    app()
