"""The migrations build exactly the tables the models describe, on each backend."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from graphql_api.core.db import Base


# SQLite cannot reflect expression indexes (the case-insensitive unique ones).
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
async def test_migrated_database_matches_the_models(services) -> None:  # type: ignore[no-untyped-def]
    def diff(sync_conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with services.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def test_sqlite_pragmas(services) -> None:  # type: ignore[no-untyped-def]
    if services.engine.dialect.name != "sqlite":
        return
    async with services.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 30000
