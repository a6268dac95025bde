"""DataLoader bases: every batch opens its own short session or connection (batches run
concurrently, and neither may be shared between tasks)."""

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from graphql_api.core.context import Sessionmaker
from graphql_api.core.db import read_connection

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SessionLoader(DataLoader, Generic[K, V]):  # type: ignore[type-arg]
    def __init__(self, sessionmaker: Sessionmaker) -> None:
        super().__init__()
        self.sessionmaker = sessionmaker

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V]:
        async with self.sessionmaker() as session:
            return await self.load_batch(session, keys)

    async def load_batch(self, session: AsyncSession, keys: Sequence[K]) -> list[V]:
        raise NotImplementedError


class RecordLoader(DataLoader, Generic[K, V]):  # type: ignore[type-arg]
    """A loader of records (`core.records`): Core statements on a connection, no session."""

    def __init__(self, sessionmaker: Sessionmaker) -> None:
        super().__init__()
        self.engine = sessionmaker.kw["bind"]

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V]:
        async with read_connection(self.engine) as conn:
            return await self.load_batch(conn, keys)

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[K]) -> list[V]:
        raise NotImplementedError


def in_key_order(
    keys: Sequence[K], rows: Iterable[Any], key: Callable[[Any], K], default: Any = None
) -> list[Any]:
    """Line rows up with the keys they were loaded for; missing keys get `default`."""
    found = {key(row): row for row in rows}
    return [found.get(k, default) for k in keys]


def grouped_by_key(
    keys: Sequence[K], rows: Iterable[Any], key: Callable[[Any], K]
) -> list[list[Any]]:
    """Line up lists of rows (a one-to-many relation) with their keys."""
    groups: dict[K, list[Any]] = {k: [] for k in keys}
    for row in rows:
        groups[key(row)].append(row)
    return [groups[k] for k in keys]
