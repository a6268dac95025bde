"""Relay connections with keyset cursors: stable under inserts, one query a page."""

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from sqlalchemy import ColumnElement, Select, bindparam, func, literal, tuple_

from graphql_api.core.db import Reads
from graphql_api.core.errors import BadUserInput
from graphql_api.core.reads import Read
from graphql_api.core.records import Record

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageArgs:
    """Validated `first`/`after`: how many rows, and the sort values to continue after."""

    first: int
    after: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class SortKey:
    """An ordering a connection can be read in; the last column must be unique (the id)."""

    name: str
    columns: tuple[str, ...]
    parsers: tuple[Callable[[Any], Any], ...]
    descending: bool

    def order_by(self, model: Any) -> list[ColumnElement[Any]]:
        cols = [getattr(model, c) for c in self.columns]
        return [c.desc() if self.descending else c.asc() for c in cols]

    def after(self, model: Any, values: tuple[Any, ...]) -> ColumnElement[bool]:
        columns = [getattr(model, c) for c in self.columns]
        # Typed like their columns, so that e.g. a Money value binds as cents.
        return self._beyond(
            columns, [literal(v, c.type) for c, v in zip(columns, values, strict=True)]
        )

    def after_bound(self, model: Any) -> ColumnElement[bool]:
        """`after` for a statement built once: the values come as `after_parameters`."""
        columns = [getattr(model, c) for c in self.columns]
        return self._beyond(columns, [bindparam(f"after_{c.key}", type_=c.type) for c in columns])

    def _beyond(self, columns: list[Any], bound: list[Any]) -> ColumnElement[bool]:
        row, limit = tuple_(*columns), tuple_(*bound)
        return row < limit if self.descending else row > limit

    def after_parameters(self, values: tuple[Any, ...]) -> dict[str, Any]:
        return {f"after_{c}": v for c, v in zip(self.columns, values, strict=True)}

    def cursor(self, obj: Any) -> str:
        values = [_plain(getattr(obj, c)) for c in self.columns]
        return base64.urlsafe_b64encode(orjson.dumps([self.name, *values])).decode()

    def decode(self, cursor: str) -> tuple[Any, ...]:
        try:
            name, *values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
            if name != self.name or len(values) != len(self.parsers):
                raise ValueError(cursor)
            return tuple(parse(v) for parse, v in zip(self.parsers, values, strict=True))
        except (ValueError, TypeError, ArithmeticError, binascii.Error, orjson.JSONDecodeError):
            raise BadUserInput(
                "Invalid cursor: pass an endCursor or cursor from the same list and order."
            ) from None

    def page_args(self, first: int | None, after: str | None) -> PageArgs:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not 0 <= size <= MAX_PAGE_SIZE:
            raise BadUserInput(f"first must be between 0 and {MAX_PAGE_SIZE}.")
        return PageArgs(size, self.decode(after) if after else None)

    def apply(self, stmt: Select[Any], model: Any, page: PageArgs) -> Select[Any]:
        """Order, continue after the cursor, and fetch one row more than asked (hasNextPage)."""
        if page.after is not None:
            stmt = stmt.where(self.after(model, page.after))
        return stmt.order_by(*self.order_by(model)).limit(page.first + 1)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# Cursor values come from clients: each parser accepts only what a column can hold.


def parse_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(parse_str(value))
    if parsed.tzinfo is None:
        raise ValueError(value)
    return parsed.astimezone(UTC)  # OverflowError near the ends of the calendar


def parse_int(value: Any) -> int:
    if type(value) is not int or not 0 < value < 2**63:
        raise ValueError(value)
    return value


def parse_str(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 10_000:
        raise ValueError(value)
    return value


def parse_decimal(value: Any) -> Decimal:
    """An amount of money: finite, at most two places, within a BIGINT of cents."""
    amount = Decimal(parse_str(value))
    if (
        not amount.is_finite()
        or amount != amount.quantize(Decimal("0.01"))
        or abs(amount) >= 10**16
    ):
        raise ValueError(value)
    return amount


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
            return (await session.execute(counted)).scalar_one()  # type: ignore[no-any-return]

    return build_connection(connection_class, rows, page, key, count)


async def read_page(
    reads: Reads,
    connection_class: type[C],
    record: type[Record],
    where: Select[Any],
    filters: dict[str, Any],
    key: SortKey,
    page: PageArgs,
) -> C:
    """One page of records (`core.records`) in one query; a count only if asked.

    `where` selects the rows of the list, with its values as bound parameters given in
    `filters`; it must be built once (cached by its caller): the page's statement is
    built once for it, since building one costs more than SQLite takes to run it.
    """
    read = _page_read(where, record, key, continues=page.after is not None)
    parameters = {**filters, "rows": page.first + 1}
    if page.after is not None:
        parameters.update(key.after_parameters(page.after))
    async with reads.connection() as conn:
        rows = await read.all(conn, parameters)

    async def count() -> int:
        counted = where.with_only_columns(func.count(), maintain_column_froms=True)
        async with reads.connection() as conn:
            return (await conn.execute(counted, filters)).scalar_one()  # type: ignore[no-any-return]

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
