"""The migrations build exactly the tables the models describe, on each backend."""

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from graphql_api.core.db import Base, create_engine
from graphql_api.core.migrate import upgrade
from graphql_api.core.settings import Settings


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


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = create_engine(Settings(database_url=f"sqlite:///{tmp_path / 'p.db'}"))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 30000
    finally:
        await engine.dispose()


def test_sqlite_tables_keyed_by_an_id_never_reuse_one(tmp_path: Path) -> None:
    """0004 rebuilds them with AUTOINCREMENT, keeping every row and what refers to it."""
    path = tmp_path / "old.db"
    settings = Settings(database_url=f"sqlite:///{path}", secret_key="k" * 40)
    upgrade(settings, "0003")
    stamp = "'2026-01-01 00:00:00'"
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO users (id, username, email, password_hash, role, is_active,"
            f" token_version, created_at, updated_at) VALUES (1, 'a', 'a@x.io', 'h', 'USER', 1,"
            f" 0, {stamp}, {stamp}), (2, 'b', 'b@x.io', 'h', 'USER', 1, 0, {stamp}, {stamp})"
        )
        db.execute(
            "INSERT INTO items (id, title, price, owner_id, created_at, updated_at)"
            f" VALUES (7, 't', 100, 2, {stamp}, {stamp})"
        )
        db.execute("INSERT INTO item_tags (item_id, tag) VALUES (7, 'x')")
    upgrade(settings)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys=ON")
        assert db.execute("SELECT id, owner_id FROM items").fetchall() == [(7, 2)]
        assert db.execute("SELECT item_id, tag FROM item_tags").fetchall() == [(7, "x")]
        keyed_by_an_id = [t.name for t in Base.metadata.tables.values() if len(t.primary_key) == 1]
        assert len(keyed_by_an_id) == 7
        for table in keyed_by_an_id:
            (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            assert "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT" in sql, table
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert {"uq_users_username_lower", "uq_users_email_lower", "ix_items_price"} <= indexes
        db.execute("DELETE FROM users WHERE id = 2")  # cascades, as before
        assert db.execute("SELECT count(*) FROM items").fetchone() == (0,)
        db.execute(
            "INSERT INTO users (username, email, password_hash, role, is_active, token_version,"
            f" created_at, updated_at) VALUES ('c', 'c@x.io', 'h', 'USER', 1, 0, {stamp}, {stamp})"
        )
        assert db.execute("SELECT max(id) FROM users").fetchone() == (3,)
