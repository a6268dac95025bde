"""Statements sent straight to the driver, each compiled once per dialect.

SQLAlchemy Core spends ~100 µs a statement on its way to the driver and back (an
execution context, parameter and result processing through its row objects): for
the three statements of a page of users with their items, a third of the request.
A `DriverStatement` keeps what that work decides, once per dialect: the SQL text, the
order of its parameters and how each converts, and how each column of a result
converts. A read then costs the driver's own time and one conversion per converted value.

Drivers it knows: aiosqlite and asyncpg. With any other, or with SQL echo on, `rows`
answers None and the caller goes through SQLAlchemy as usual. Either way
`before_cursor_execute` listeners hear every statement.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graphql_api.core.db.internals import announce_statement

Convert = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class CompiledRead:
    sql: str
    # In placeholder order: (parameter name, its conversion or None).
    parameters: tuple[tuple[str, Convert | None], ...]
    defaults: dict[str, Any]  # values the statement carries itself
    # (column index, conversion) for the columns that convert.
    columns: tuple[tuple[int, Convert], ...]


def _compile(stmt: Select[Any], dialect: Dialect) -> CompiledRead:
    compiled = stmt.compile(dialect=dialect)
    names = compiled.positiontup or ()
    binds = compiled.binds
    if any(bind.expanding for bind in binds.values()):
        # Its SQL would change with the number of values: give a parameter per value.
        raise ValueError("a Read takes no IN (...) of a list: use one parameter per value")
    parameters = tuple(
        (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
    )
    defaults = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
    columns = tuple(
        (i, convert)
        for i, column in enumerate(stmt.selected_columns)
        if (convert := column.type.dialect_impl(dialect).result_processor(dialect, None))
    )
    return CompiledRead(compiled.string, parameters, defaults, columns)


def reads_directly(engine: AsyncEngine) -> bool:
    """Whether a `DriverStatement` runs on this engine's driver: aiosqlite or asyncpg,
    with SQL echo off."""
    return not engine.echo and engine.dialect.driver in ("aiosqlite", "asyncpg")


class DriverStatement:
    """A select, run on aiosqlite's or asyncpg's connection without SQLAlchemy."""

    __slots__ = ("_compiled", "stmt")

    def __init__(self, stmt: Select[Any] | None, compiled: dict[str, CompiledRead] | None = None):
        self.stmt = stmt
        self._compiled: dict[str, CompiledRead] = compiled or {}

    @classmethod
    def compiled_for(cls, stmt: Select[Any], dialect: Dialect) -> "DriverStatement":
        """One that runs on `dialect` alone: compiled now, the select not kept."""
        return cls(None, {dialect.name: _compile(stmt, dialect)})

    def compiled(self, dialect: Dialect) -> CompiledRead:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            if self.stmt is None:
                raise ValueError(f"compiled for {', '.join(self._compiled)} alone")
            compiled = self._compiled[dialect.name] = _compile(self.stmt, dialect)
        return compiled

    async def rows(
        self, conn: AsyncConnection, parameters: dict[str, Any]
    ) -> list[Sequence[Any]] | None:
        """Its rows, each value converted as SQLAlchemy converts it; None where this driver
        or SQL echo leaves it to SQLAlchemy."""
        engine = conn.engine
        if not reads_directly(engine):
            return None
        # aiosqlite's or asyncpg's connection (SQLAlchemy types it Any | None).
        driver: Any = (await conn.get_raw_connection()).driver_connection
        sqlite = isinstance(driver, aiosqlite.Connection)
        compiled = self.compiled(engine.dialect)
        values = []
        for name, convert in compiled.parameters:
            value = parameters[name] if name in parameters else compiled.defaults[name]
            values.append(value if convert is None else convert(value))
        announce_statement(conn, compiled.sql, values)
        if sqlite:
            rows: list[Sequence[Any]] = await driver.execute_fetchall(compiled.sql, values)
        else:
            rows = await driver.fetch(compiled.sql, *values)
        if not compiled.columns:
            return rows
        converted: list[Sequence[Any]] = []
        for row in rows:
            fields = list(row)
            for i, convert in compiled.columns:
                fields[i] = convert(fields[i])
            converted.append(fields)
        return converted
