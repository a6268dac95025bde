"""Read models: a model's columns as a plain named tuple, for what is only read, and the
`Read` that loads them.

Loading rows as ORM instances costs a session, an identity map and instrumented state
per row: for the page of 20 users that `users` reads, about as much as the rest of the
query. What the API only reads (DataLoaders, pages) is loaded as records instead: named
tuples with the model's column attributes and its plain properties (`User.is_admin`),
made straight from the rows of a Core statement. Writes keep the ORM models; GraphQL
types accept both (`instance_of`, which `core.graphql.relay.of_model` gives them).

A `Read` runs its statement on the driver directly where `core.db.fastread` knows the
driver, and through SQLAlchemy otherwise; this module is the one that imports fastread, so
turning that off is deleting the two lines of `Read.all` that ask it.
"""

from collections import namedtuple
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, inspect, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Mapper

from graphql_api.core.db.fastread.reads import DriverStatement, reads_directly


class Record(tuple[Any, ...]):
    """Base of the read models; `model` is the ORM class a record stands for."""

    __slots__ = ()
    model: Any
    fields: tuple[str, ...]
    _make: Callable[[Iterable[Any]], Any]  # the namedtuple's, from the class read_model makes

    @classmethod
    def columns(cls, source: Any = None) -> list[ColumnElement[Any]]:
        """The columns to select, in field order, of the model or of an alias of it."""
        entity = cls.model if source is None else source
        return [getattr(entity, name) for name in cls.fields]

    @classmethod
    def select(cls, source: Any = None) -> Select[Any]:
        return select(*cls.columns(source))

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> list[Any]:
        make = cls._make
        return [make(row) for row in rows]


def read_model(model: type) -> type[Record]:
    """The record class of an ORM model: its column attributes and plain properties."""
    mapper: Mapper[Any] = inspect(model)
    fields = tuple(attribute.key for attribute in mapper.column_attrs)
    properties = {
        name: value
        for klass in reversed(model.__mro__)
        for name, value in vars(klass).items()
        if isinstance(value, property)
    }
    # Its name and fields are known at run time only; mypy checks literal namedtuples.
    base = namedtuple(f"{model.__name__}Row", fields)  # type: ignore[misc]
    return type(
        f"{model.__name__}Record",
        (base, Record),
        {"__slots__": (), "model": model, "fields": fields, **properties},
    )


def instance_of(obj: Any, model: type) -> bool:
    """Whether `obj` is an instance of the model or a record of it."""
    return isinstance(obj, model) or (isinstance(obj, Record) and obj.model is model)


class Read:
    """A select of a record class's columns, read as records."""

    __slots__ = ("driver", "record", "stmt")

    def __init__(self, record: type[Record], stmt: Select[Any]) -> None:
        self.record = record
        self.stmt = stmt
        self.driver = DriverStatement(stmt)

    async def all(self, conn: AsyncConnection, parameters: dict[str, Any]) -> list[Any]:
        """The records the statement selects with these parameters."""
        rows = await self.driver.rows(conn, parameters)
        if rows is None:
            rows = await conn.execute(self.stmt, parameters)
        return self.record.from_rows(rows)


class Value:
    """One value (one row of one column) of a select, read straight from the driver.

    Compiled for one dialect when made, and the select is not kept: compiled is all a
    read needs, and the select of a large tree of JSON weighs hundreds of KB. For
    aiosqlite and asyncpg without SQL echo (`can_read`), as `core.db.fastread` runs them.
    """

    __slots__ = ("driver",)

    def __init__(self, stmt: Select[Any], dialect: Dialect) -> None:
        self.driver = DriverStatement.compiled_for(stmt, dialect)

    @staticmethod
    def can_read(engine: AsyncEngine) -> bool:
        return reads_directly(engine)

    async def one(self, conn: AsyncConnection, parameters: dict[str, Any]) -> Any:
        rows = await self.driver.rows(conn, parameters)
        if rows is None:
            raise RuntimeError("a Value is read on aiosqlite or asyncpg alone (can_read)")
        ((value,),) = rows
        return value
