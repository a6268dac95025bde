"""DataLoader bases: every batch opens its own short session or connection, in its
request's turn (`core.db.Reads`): batches run concurrently, and neither a session nor a
connection may be shared between tasks.

`ChildPageLoader` (a page of each parent's children) and `CountPerParentLoader` (a count
per parent) read a one-to-many relation for a whole batch of parents in one statement.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any, ClassVar, Protocol, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import BindParameter, ColumnElement, bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from graphql_api.core.db.engine import Reads
from graphql_api.core.db.keyset import PageArgs, SortKey
from graphql_api.core.db.records import Read, Record

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
    """A loader of records (`core.db.records`): Core statements on a connection, no
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
    # this size, so it is compiled once (core.db.records.Read).
    keys: list[BindParameter[Any]] = [bindparam(f"key_{n}") for n in range(count)]
    return Read(record, record.select().where(getattr(record.model, column).in_(keys)))


class ByColumnLoader(RecordLoader[K, V]):
    """The record whose column is each key, or None; say which records and which column:

        class UserByIdLoader(ByColumnLoader[int, User | None]):
            record = UserRecord
            column = "id"

    A batch takes one statement per 100 keys (`by_keys`).
    """

    record: ClassVar[type[Record]]
    column: ClassVar[str]

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[K]) -> list[V]:
        rows = await by_keys(conn, self.record, self.column, keys)
        return in_key_order(keys, rows, attrgetter(self.column))


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


class Filter(Protocol):
    """What narrows a parent's children (an `ItemFilter`): hashable, as part of a key."""

    @property
    def shape(self) -> Hashable:
        """Which conditions apply: the statement is built once per shape."""
        ...

    def parameters(self) -> dict[str, Any]:
        """The values of the bound parameters of the shape's conditions."""
        ...


@dataclass(frozen=True, slots=True)
class ChildPage:
    """A `ChildPageLoader` key: one page of one parent's children, in `key`'s order."""

    parent: Hashable
    key: SortKey
    page: PageArgs
    where: Filter | None = None


@dataclass(frozen=True, slots=True)
class Children:
    """A `CountPerParentLoader` key: all of one parent's children (those `where` keeps)."""

    parent: Hashable
    where: Filter | None = None


def _shape_and_parameters(where: Filter | None) -> tuple[Hashable, dict[str, Any]]:
    return (None, {}) if where is None else (where.shape, where.parameters())


class ChildPageLoader(RecordLoader[ChildPage, list[Any]]):
    """A page of each parent's children, for a batch of parents in one statement.

    Say which records the children load as and which of their columns names the parent;
    optionally, how a filter's shape narrows them (its values come from `parameters()`):

        class ItemsByOwnerLoader(ChildPageLoader):
            record = ItemRecord    # read_model(Item)
            parent = "owner_id"    # Item.owner_id
            conditions = staticmethod(items.service.conditions)

    Then `load(ChildPage(owner_id, ItemOrder.CREATED_AT_DESC.value, page_args(key, first,
    after), ItemFilter(tag="red")))` answers the parent's first `page.first + 1` children
    after the cursor `page.after`, in the key's order: the extra row tells
    `build_connection` that a next page follows. `child_connection`
    (`core.graphql.connections`) makes the whole connection, `totalCount` included.

    Keys of one batch with the same key, page and filter share one statement per 100
    parents: an indexed LIMIT query per parent, put together with UNION ALL. Each part
    reads just its page off a (parent, sort columns) index, where a window function over
    all the parents' children would number every child first (4x slower on SQLite for 20
    parents of 20 children). For `last`/`before`, read with a descending key and put the
    page back in order with `oldest_first`.
    """

    record: ClassVar[type[Record]]
    parent: ClassVar[str]

    @staticmethod
    def conditions(shape: Any, model: Any) -> Sequence[ColumnElement[bool]]:
        """The conditions a filter of this shape adds to `model` (the model or an alias
        of it), on bound parameters."""
        return ()

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[ChildPage]) -> list[list[Any]]:
        by_args: dict[tuple[Filter | None, SortKey, PageArgs], list[Hashable]] = defaultdict(list)
        for key in keys:
            by_args[key.where, key.key, key.page].append(key.parent)
        pages: dict[ChildPage, list[Any]] = {}
        for (where, sort, page), parents in by_args.items():
            found = await self._pages(conn, parents, where, sort, page)
            for parent, rows in zip(parents, found, strict=True):
                pages[ChildPage(parent, sort, page, where)] = rows
        return [pages[key] for key in keys]

    async def _pages(
        self,
        conn: AsyncConnection,
        parents: list[Hashable],
        where: Filter | None,
        key: SortKey,
        page: PageArgs,
    ) -> list[list[Any]]:
        shape, filters = _shape_and_parameters(where)
        rows: list[Any] = []
        for start in range(0, len(parents), PARENTS_PER_STATEMENT):
            chunk = parents[start : start + PARENTS_PER_STATEMENT]
            read = _first_of_each(
                self.record,
                self.parent,
                self.conditions,
                shape,
                key,
                len(chunk),
                continues=page.after is not None,
            )
            parameters = {**filters, "rows": page.first + 1}
            parameters.update((f"parent_{n}", parent) for n, parent in enumerate(chunk))
            if page.after is not None:
                parameters.update(key.after_parameters(page.after))
            rows += await read.all(conn, parameters)
        return grouped_by_key(parents, rows, attrgetter(self.parent))


# Parents per statement: SQLite allows 500 parts to a compound SELECT.
PARENTS_PER_STATEMENT = 100


@lru_cache(maxsize=512)
def _first_of_each(
    record: type[Record],
    parent_column: str,
    conditions: Callable[[Any, Any], Sequence[ColumnElement[bool]]],
    shape: Hashable,
    key: SortKey,
    parents: int,
    *,
    continues: bool,
) -> Read:
    """The first `:rows` children of each of `:parent_0`... (after the cursor, if `continues`).

    Built once per shape: building a statement costs more than SQLite takes to run it.
    """
    model = record.model
    parent = getattr(model, parent_column)
    parts = []
    for n in range(parents):
        part = record.select().where(parent == bindparam(f"parent_{n}"))
        part = part.where(*conditions(shape, model))
        if continues:
            part = part.where(key.after_bound(model))
        # Wrapped: SQLite takes no ORDER BY or LIMIT on a part of a compound SELECT.
        ordered = part.order_by(*key.order_by(model)).limit(bindparam("rows")).subquery()
        parts.append(select(ordered))
    pages = union_all(*parts).subquery()
    columns = (pages.c[name] for name in record.fields)
    return Read(record, select(*columns).order_by(*key.order_by(pages.c)))


class CountPerParentLoader(RecordLoader[Children, int]):
    """How many children each parent has, for a batch of parents in one GROUP BY statement
    (per filter); 0 for a parent with none.

        class ItemCountByOwnerLoader(CountPerParentLoader):
            model = Item
            parent = "owner_id"
            conditions = staticmethod(items.service.conditions)

    `load(Children(owner_id, ItemFilter(tag="red")))` counts what the `ChildPageLoader`
    with the same parent column and conditions pages through.
    """

    model: ClassVar[Any]
    parent: ClassVar[str]

    @staticmethod
    def conditions(shape: Any, model: Any) -> Sequence[ColumnElement[bool]]:
        """The conditions a filter of this shape adds to `model` (the model or an alias
        of it), on bound parameters."""
        return ()

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[Children]) -> list[int]:
        by_filter: dict[Filter | None, list[Hashable]] = defaultdict(list)
        for key in keys:
            by_filter[key.where].append(key.parent)
        parent = getattr(self.model, self.parent)
        counts: dict[Children, int] = {}
        for where, parents in by_filter.items():
            shape, filters = _shape_and_parameters(where)
            rows = await conn.execute(
                select(parent, func.count())
                .where(parent.in_(parents), *self.conditions(shape, self.model))
                .group_by(parent),
                filters,
            )
            counts.update((Children(found, where), n) for found, n in rows)
        return [counts.get(key, 0) for key in keys]
