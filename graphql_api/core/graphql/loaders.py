"""DataLoader bases: every batch opens its own short session or connection, in its
request's turn (`core.db.Reads`): batches run concurrently, and neither a session nor a
connection may be shared between tasks."""

from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import BindParameter, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from graphql_api.core.db.engine import Reads
from graphql_api.core.db.fastread.reads import Read
from graphql_api.core.db.fastread.records import Record

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SessionLoader(DataLoader[K, V]):
    def __init__(self, reads: Reads) -> None:
        super().__init__()
        self.reads = reads

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V]:
        async with self.reads.session() as session:
            return await self.load_batch(session, keys)

    async def load_batch(self, session: AsyncSession, keys: Sequence[K]) -> list[V]:
        raise NotImplementedError


class RecordLoader(DataLoader[K, V]):
    """A loader of records (`core.db.fastread.records`): Core statements on a connection, no
    session."""

    def __init__(self, reads: Reads) -> None:
        super().__init__()
        self.reads = reads

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V]:
        async with self.reads.connection() as conn:
            return await self.load_batch(conn, keys)

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[K]) -> list[V]:
        raise NotImplementedError


# Keys per statement: past this, a batch takes several (SQLite allows 32,766 parameters).
KEYS_PER_STATEMENT = 100


async def by_keys(
    conn: AsyncConnection, record: type[Record], column: str, keys: Sequence[Any]
) -> list[Any]:
    """The records whose column (by attribute name) is one of `keys`, in any order."""
    rows: list[Any] = []
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        chunk = keys[start : start + KEYS_PER_STATEMENT]
        read = _by_keys(record, column, len(chunk))
        rows += await read.all(conn, {f"key_{n}": key for n, key in enumerate(chunk)})
    return rows


@lru_cache(maxsize=512)
def _by_keys(record: type[Record], column: str, count: int) -> Read:
    # A parameter per key (not an expanding IN): the SQL is the same for every batch of
    # this size, so it is compiled once (core.db.fastread.reads).
    keys: list[BindParameter[Any]] = [bindparam(f"key_{n}") for n in range(count)]
    return Read(record, record.select().where(getattr(record.model, column).in_(keys)))


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
