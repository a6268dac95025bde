"""Keyset pagination in SQL: orderings, their cursors, and where a page continues.

A cursor holds the sort values of the row it points at, so a page is one indexed range
query that stays stable under inserts. The GraphQL side (Connection, PageInfo) is
`core.graphql.connections`.
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, bindparam, literal, tuple_

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class InvalidCursor(ValueError):
    """A cursor this key did not make (or one from another list or order)."""


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
        """The sort values a cursor of this key holds; InvalidCursor if it is not one."""
        try:
            name, *values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
            if name != self.name or len(values) != len(self.parsers):
                raise ValueError(cursor)
            return tuple(parse(v) for parse, v in zip(self.parsers, values, strict=True))
        except (ValueError, TypeError, ArithmeticError, binascii.Error, orjson.JSONDecodeError):
            raise InvalidCursor(cursor) from None

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
    # PostgreSQL's text holds no NUL: one would fail the statement, not the cursor.
    if not isinstance(value, str) or len(value) > 10_000 or "\x00" in value:
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
