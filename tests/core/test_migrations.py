"""The migrations build exactly the tables the models describe, on each backend."""

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from graphql_api.core.db.base import Base
from graphql_api.core.db.engine import create_engine
from graphql_api.core.db.migrate import upgrade, upgrade_async
from graphql_api.core.settings import Settings
from tests.support.databases import server_database


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


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_existing_messages_are_numbered_per_room_in_id_order(
    backend: str, tmp_path: Path
) -> None:
    """0005: the order they were read in until then; each room's count is its last_seq."""
    async with server_database(backend, tmp_path) as url:
        settings = Settings(database_url=url, secret_key="k" * 40)
        await upgrade_async(settings, "0004")
        engine = create_engine(settings)
        stamp = "'2026-01-01 00:00:00'"
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO users (id, username, email, password_hash, role, is_active,"
                        f" token_version, created_at, updated_at) VALUES (1, 'a', 'a@x.io', 'h',"
                        f" 'USER', true, 0, {stamp}, {stamp})"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO chat_rooms (id, name, title, created_at) VALUES"
                        f" (1, 'one', 'one', {stamp}), (2, 'two', 'two', {stamp}),"
                        f" (3, 'empty', 'empty', {stamp})"
                    )
                )
                for pk, room in ((10, 2), (11, 1), (12, 2), (14, 1), (15, 2)):
                    await conn.execute(
                        text(
                            "INSERT INTO chat_messages (id, room_id, author_id, text, sent_at)"
                            f" VALUES ({pk}, {room}, 1, 'x', {stamp})"
                        )
                    )
            await upgrade_async(settings)
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT id, seq FROM chat_messages ORDER BY id"))
                assert [tuple(row) for row in rows] == [(10, 1), (11, 1), (12, 2), (14, 2), (15, 3)]
                rooms = await conn.execute(text("SELECT id, last_seq FROM chat_rooms ORDER BY id"))
                assert [tuple(row) for row in rooms] == [(1, 2), (2, 3), (3, 0)]
        finally:
            await engine.dispose()
