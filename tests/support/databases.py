"""Databases for tests: one of its own on PostgreSQL, emptied tables, statements counted,
and direct reads of a live server's database."""

import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.db.base import Base
from tests.support.settings import IN_CI

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgres").split(",") if b]


async def postgres_database() -> tuple[str, str]:
    """A fresh database on the PostgreSQL server, so runs never see each other's rows:
    its name and URL. Skips the test without the server (fails it under CI=true)."""
    name = f"graphql_api_test_{secrets.token_hex(4)}"
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = POSTGRES_URL.rpartition("/")
    return name, f"{base}/{name}"


async def drop_postgres_database(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def server_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty, unmigrated database of its own, for a server started in a subprocess."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    name, url = await postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(name)


async def empty_tables(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def clear(self) -> None:
        self.statements.clear()


Rows = Callable[[str], Awaitable[list[tuple[Any, ...]]]]


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Rows]:
    """A direct connection to a live server's database, beside the server's own."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:

            async def sqlite_rows(sql: str) -> list[tuple[Any, ...]]:
                return conn.execute(sql).fetchall()

            yield sqlite_rows
        finally:
            conn.close()
        return
    pg = await asyncpg.connect(url, timeout=10)
    try:

        async def postgres_rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in await pg.fetch(sql)]

        yield postgres_rows
    finally:
        await pg.close()


async def count_rows(engine: AsyncEngine, table: str) -> int:
    """How many rows `table` holds now."""
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
