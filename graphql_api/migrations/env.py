"""Alembic environment: runs migrations on the app's own async engine."""

import asyncio

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection

from graphql_api.core.db.base import Base
from graphql_api.core.db.engine import create_engine
from graphql_api.core.settings import load_settings
from graphql_api.models import load_all_models

load_all_models()
config = context.config
settings = config.attributes.get("settings") or load_settings()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")


def _without_foreign_keys(dbapi_connection: DBAPIConnection, _record: object) -> None:
    # A table rebuilt on SQLite (batch mode) is dropped and its copy renamed: with
    # foreign keys on, the drop would cascade to every row that refers to it. They are
    # checked once, at the end (above), as SQLite's documentation advises.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


async def _run_online() -> None:
    # A migration may rewrite a large table: no statement timeout for it.
    engine = create_engine(settings.model_copy(update={"db_statement_timeout_seconds": 0}))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _without_foreign_keys)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=settings.async_database_url, target_metadata=Base.metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
