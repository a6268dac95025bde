"""Relay connections over keyset pages: the types clients see and how a page is read.

A page is one query (`paginate` over the ORM, `read_page` over records), and a page of
each of many parents' children one per batch (`child_connection`); `totalCount` costs a
count only when it is selected.
"""

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import Select, bindparam, func

from graphql_api.core.db.engine import Reads
from graphql_api.core.db.keyset import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    InvalidCursor,
    PageArgs,
    SortKey,
)
from graphql_api.core.db.records import Read, Record
from graphql_api.core.graphql.context import Context
from graphql_api.core.graphql.errors import BadUserInput
from graphql_api.core.graphql.loaders import (
    ChildPage,
    ChildPageLoader,
    Children,
    CountPerParentLoader,
    Filter,
)
from graphql_api.core.validation import MAX_SEARCH_LENGTH

T = TypeVar("T")


def search_term(search: str | None) -> str | None:
    """A list's `search` argument, trimmed; None when empty. Long ones are refused."""
    if search is None or not search.strip():
        return None
    if len(search) > MAX_SEARCH_LENGTH:
        raise BadUserInput(f"search is at most {MAX_SEARCH_LENGTH} characters.")
    return search.strip()


def page_args(key: SortKey, first: int | None, after: str | None) -> PageArgs:
    """Checked `first`/`after` of a connection read in `key`'s order."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise BadUserInput(f"first must be between 0 and {MAX_PAGE_SIZE}.")
    try:
        return PageArgs(size, key.decode(after) if after else None)
    except InvalidCursor:
        raise BadUserInput(
            "Invalid cursor: pass an endCursor or cursor from the same list and order."
        ) from None


@strawberry.type(description="Where a page of a connection stands in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more nodes follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether nodes precede this page (forward pagination: true after a cursor)."
    )
    # Cursors are made when asked for: most pages are read without them.
    first_node: strawberry.Private[Any]
    last_node: strawberry.Private[Any]
    key: strawberry.Private[SortKey]

    @strawberry.field(description="The cursor of the first edge.")
    def start_cursor(self) -> str | None:
        return None if self.first_node is None else self.key.cursor(self.first_node)

    @strawberry.field(
        description="The cursor of the last edge: pass it as `after` for the next page."
    )
    def end_cursor(self) -> str | None:
        return None if self.last_node is None else self.key.cursor(self.last_node)


@strawberry.type(description="A node and its cursor.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The object.")
    key: strawberry.Private[SortKey]

    @strawberry.field(description="Opaque position of this node in the list.")
    def cursor(self) -> str:
        return self.key.cursor(self.node)


@strawberry.type(description="A page of a list, with Relay cursors.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The nodes of this page with cursors.")
    page_info: PageInfo = strawberry.field(description="How to fetch the next page.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The nodes of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many nodes the whole list has, across all pages.")
    async def total_count(self) -> int:
        return await self.count()


C = TypeVar("C", bound=Connection[Any])


def build_connection(
    connection_class: type[C],
    rows: Sequence[Any],
    page: PageArgs,
    key: SortKey,
    count: Callable[[], Awaitable[int]],
) -> C:
    """Turn `first + 1` fetched rows into a page of `connection_class`."""
    has_next = len(rows) > page.first
    edges = [Edge(node=row, key=key) for row in rows[: page.first]]
    return connection_class(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=page.after is not None,
            first_node=edges[0].node if edges else None,
            last_node=edges[-1].node if edges else None,
            key=key,
        ),
        count=count,
    )


async def paginate(
    reads: Reads,
    connection_class: type[C],
    stmt: Select[Any],
    model: Any,
    key: SortKey,
    page: PageArgs,
) -> C:
    """One page of `select(model)...` in one query; `totalCount` costs a count only if asked."""
    async with reads.session() as session:
        rows = list((await session.execute(key.apply(stmt, model, page))).scalars())

    async def count() -> int:
        counted = stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        async with reads.session() as session:
            return (await session.execute(counted)).scalar_one()

    return build_connection(connection_class, rows, page, key, count)


@dataclass(frozen=True, slots=True)
class PageSource:
    """Which page of which list: what `read_page` reads, and the SQL compiler too.

    `where` selects the rows of the list (`select(Model.id).where(...)`), with its values
    as bound parameters given in `filters`; it must be built once (cached by its maker):
    the page's statement is built once for it, since building one costs more than SQLite
    takes to run it.
    """

    record: type[Record]
    where: Select[Any]
    filters: dict[str, Any]
    key: SortKey
    page: PageArgs


async def read_page(reads: Reads, connection_class: type[C], source: PageSource) -> C:
    """One page of records (`core.db.records`) in one query; a count only if asked."""
    page, key, where, filters = source.page, source.key, source.where, source.filters
    read = _page_read(where, source.record, key, continues=page.after is not None)
    parameters = {**filters, "rows": page.first + 1}
    if page.after is not None:
        parameters.update(key.after_parameters(page.after))
    async with reads.connection() as conn:
        rows = await read.all(conn, parameters)

    async def count() -> int:
        counted = where.with_only_columns(func.count(), maintain_column_froms=True)
        async with reads.connection() as conn:
            return (await conn.execute(counted, filters)).scalar_one()

    return build_connection(connection_class, rows, page, key, count)


async def child_connection(
    context: Context,
    connection_class: type[C],
    pages: type[ChildPageLoader],
    counts: type[CountPerParentLoader],
    parent: Hashable,
    key: SortKey,
    page: PageArgs,
    where: Filter | None = None,
) -> C:
    """One parent's page of children, batched with the other parents the request reads.

    `pages` and `counts` are loader classes over the same relation (`core.graphql.loaders`):

        return await child_connection(
            info.context, ItemConnection, ItemsByOwnerLoader, ItemCountByOwnerLoader,
            user.id, key, page_args(key, first, after), ItemFilter(tag=tag),
        )

    The page costs one statement per batch of parents, `totalCount` another, only if asked.
    """
    rows = await context.loader(pages).load(ChildPage(parent, key, page, where))

    async def count() -> int:
        return await context.loader(counts).load(Children(parent, where))

    return build_connection(connection_class, rows, page, key, count)


@lru_cache(maxsize=256)
def _page_read(where: Select[Any], record: type[Record], key: SortKey, *, continues: bool) -> Read:
    stmt = where.with_only_columns(*record.columns(), maintain_column_froms=True)
    if continues:
        stmt = stmt.where(key.after_bound(record.model))
    return Read(record, stmt.order_by(*key.order_by(record.model)).limit(bindparam("rows")))


def oldest_first(connection: C) -> C:
    """A page read newest first (`last`/`before` over a descending key), put in time order.

    Its `startCursor` is then what to pass as `before` for the page of older nodes, and
    `hasPreviousPage` says whether there is one.
    """
    connection.edges.reverse()
    read = connection.page_info
    connection.page_info = PageInfo(
        has_next_page=read.has_previous_page,
        has_previous_page=read.has_next_page,
        first_node=read.last_node,
        last_node=read.first_node,
        key=read.key,
    )
    return connection
