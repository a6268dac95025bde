"""Alembic environment: runs migrations on the app's own async engine."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from graphql_api.core.db import Base, create_engine
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


async def _run_online() -> None:
    # A migration may rewrite a large table: no statement timeout for it.
    engine = create_engine(settings.model_copy(update={"db_statement_timeout_seconds": 0}))
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
