"""Root fields whose answer PostgreSQL builds: one statement, its JSON text spliced whole.

A plan (`plans`) completes every field of every object in Python: for a page of 20
users with 5 items each, ~300 values are read from rows, converted, put in dicts, and
turned into text by orjson. Where a root field's whole subtree is what the database
holds (columns, global IDs, objects by key, pages of lists: the model mapping and the
declarations of `core.graphql.sources` say which), PostgreSQL builds that text itself,
in one statement:

- an object is `'{"key":' || value || ...`, each value formatted exactly as its Python
  value serializes (`to_json` escapes strings as orjson does; global IDs and cursors are
  base64 from `encode`, timestamps `to_char`, money `cents * 0.01`);
- an object by key (`ToOne`) is a scalar subquery on the loader's column;
- a page (`Pages`, `ChildPages`) is a subquery of its `first + 1` rows in the key's
  order, numbered by `row_number()`; `string_agg(... ORDER BY n) FILTER (WHERE n <=
  first)` lists the page, and `count(*) > first` says `hasNextPage`; `totalCount` is a
  count subquery of the same list.

Where graphql-core would report an error (a null where the schema promises a value, an
Int out of range), the SQL writes U+0001, which JSON text never holds unescaped; where a
value has no SQL formatting (an infinite timestamp), its object is NULL, and that too
becomes U+0001. Such an answer is not used: the plan answers the field as it always has.

A root field's tree is worked out once per plan (`Tree`; a field that needs Python is
`Unfit`, and the plan answers it); its statement once per shape of its lists (which
order, which filters, the page size, whether a cursor is given), kept compiled in one
bounded cache that builds new ones at a bounded rate (`Statements`). Each list's values
are bound parameters with a prefix of its own (`c0_tag`, `c1_after_id`, ...).
PostgreSQL only: SQLite has no base64, and its answers come from the plans.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import orjson
from graphql import GraphQLEnumType, get_named_type
from sqlalchemy import (
    BigInteger,
    BindParameter,
    Boolean,
    ColumnElement,
    DateTime,
    Enum,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    inspect,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import aliased
from sqlalchemy.sql.visitors import replacement_traverse
from strawberry.permission import PermissionExtension

from graphql_api.core.db.base import Money, UTCDateTime
from graphql_api.core.db.keyset import SortKey
from graphql_api.core.db.records import Value
from graphql_api.core.graphql.connections import Connection, Edge, PageInfo, PageSource
from graphql_api.core.graphql.engine.plans import (
    DEFINITION,
    FieldPlan,
    LeafCompletion,
    ListCompletion,
    ObjectCompletion,
    SelectionPlan,
)
from graphql_api.core.graphql.relay import model_of
from graphql_api.core.graphql.sources import ChildList, ChildPages, GlobalId, Pages, ToOne, declared

Columns = Callable[[str], ColumnElement[Any]]  # a row's columns by attribute name
FAIL = "\x01"  # where graphql-core would report an error (see above)
INT_RANGE = (-(2**31), 2**31 - 1)  # GraphQL's Int


class Unfit(Exception):
    """Something in the subtree needs Python: the plan answers the root field."""


class Statements:
    """The compiled statements of every root field answered here, by field and shape: the
    least recently used dropped past `size`, new ones built at most `per_second` (and
    `burst` at once).

    Building one takes 5 to 15 ms of the event loop, and its compiled form tens of KB. A
    client sending a new shape with every request (each page size, order and filter in
    turn, or new documents) would otherwise make every request pay a build, and the
    memory grow with what it sent. Past the budget, the plan answers: as fast as before
    this module, and with the same bytes.
    """

    def __init__(self, size: int = 256, per_second: float = 8.0, burst: int = 64) -> None:
        self.size = size
        self.per_second = per_second
        self.burst = burst
        self.built = 0
        self._found: OrderedDict[Hashable, tuple[Value, list[Any]]] = OrderedDict()
        self.clear()

    def clear(self) -> None:
        """Drop every statement, and give back the whole budget."""
        self._found.clear()
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()

    def get(self, key: Hashable) -> Value | None:
        found = self._found.get(key)
        if found is None:
            return None
        self._found.move_to_end(key)
        return found[0]

    def may_build(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def add(self, key: Hashable, statement: Value, keep: list[Any]) -> None:
        """Keep `statement`, and with it `keep`: what the key holds the ids of."""
        self.built += 1
        self._found[key] = (statement, keep)
        if len(self._found) > self.size:
            self._found.popitem(last=False)


# A root field's tree: what each key of each object is, worked out once per plan.


@dataclass(slots=True)
class Literal:
    json: str  # a __typename, say


@dataclass(slots=True)
class Column:
    name: str
    format: Callable[[ColumnElement[Any]], ColumnElement[str]]
    on_null: str | None  # the text for NULL ("null" or FAIL); None: the column has none


@dataclass(slots=True)
class Id:
    type_name: str


@dataclass(slots=True)
class Object:
    """A JSON object of one row: a node, an edge (its node is an Object of the same row)
    or a connection's pageInfo (of its page)."""

    fields: list[tuple[str, "Part"]]


@dataclass(slots=True)
class One:
    declaration: ToOne
    model: Any
    object: Object
    on_null: str


@dataclass(slots=True)
class Listed:
    element: Object  # a node or an edge, per row of the page


@dataclass(slots=True)
class PagePart:
    name: str  # cursor, total_count, has_next_page, has_previous_page, start/end_cursor


@dataclass(slots=True)
class Conn:
    index: int  # its place among the root field's lists, in document order
    plan: FieldPlan
    declaration: Pages | ChildPages
    model: Any  # of its nodes
    object: Object = field(default_factory=lambda: Object([]))


Part = Literal | Column | Id | Object | One | Listed | PagePart | Conn
PAGE_INFO = frozenset({"has_next_page", "has_previous_page", "start_cursor", "end_cursor"})


def _origin(selection: SelectionPlan) -> Any:
    return getattr(selection.type.extensions.get(DEFINITION), "origin", None)


def _is(selection: SelectionPlan, base: type) -> bool:
    origin = _origin(selection)
    return isinstance(origin, type) and issubclass(origin, base)


def _selection(completion: Any, *, listed: bool = False) -> SelectionPlan:
    """The object selection of a field's completion (of a list of non-null ones)."""
    if listed:
        if not isinstance(completion, ListCompletion) or completion.item.nullable:
            raise Unfit
        completion = completion.item
    if not isinstance(completion, ObjectCompletion):
        raise Unfit
    return completion.selection


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _name(plan: FieldPlan) -> str:
    if plan.how == "typename":
        return "__typename"
    return plan.strawberry_field.python_name if plan.strawberry_field else ""


def fits(plan: FieldPlan) -> bool:
    """Whether the field's extensions are ones this module knows: permissions that raise."""
    sfield = plan.strawberry_field
    return sfield is not None and all(
        isinstance(e, PermissionExtension) and not e.fail_silently for e in sfield.extensions
    )


class Tree:
    """The tree of a root field that is a page of a list (`Pages`), or Unfit."""

    def __init__(self, plan: FieldPlan) -> None:
        self.conns: list[Conn] = []
        self.root = self.conn(plan)
        if not isinstance(self.root.declaration, Pages):
            raise Unfit

    def conn(self, plan: FieldPlan) -> Conn:
        declaration = declared(plan.strawberry_field) if plan.strawberry_field else None
        selection = _selection(plan.completion)
        if not isinstance(declaration, (Pages, ChildPages)) or not fits(plan):
            raise Unfit
        if not _is(selection, Connection):
            raise Unfit
        if isinstance(declaration, ChildPages):
            model = declaration.pages.record.model
        else:  # a `PageSource` names its record: `Build` checks it is of this model
            nodes = get_named_type(selection.type.fields["nodes"].type)
            model = model_of(nodes.extensions[DEFINITION].origin)
        conn = Conn(len(self.conns), plan, declaration, model)
        self.conns.append(conn)  # before the lists below it: in document order

        def part_of(name: str, field_plan: FieldPlan) -> Part | None:
            if name in ("nodes", "edges"):
                item = _selection(field_plan.completion, listed=True)
                return Listed(
                    self.object(item, model) if name == "nodes" else self.edge(item, model)
                )
            if name == "page_info":
                info = _selection(field_plan.completion)
                if _origin(info) is not PageInfo:
                    return None
                return self.known(
                    info, lambda name, _: PagePart(name) if name in PAGE_INFO else None
                )
            return PagePart(name) if name == "total_count" else None

        conn.object = self.known(selection, part_of)
        return conn

    def edge(self, selection: SelectionPlan, model: Any) -> Object:
        if not _is(selection, Edge):
            raise Unfit

        def part_of(name: str, field_plan: FieldPlan) -> Part | None:
            if name == "node":
                return self.object(_selection(field_plan.completion), model)
            return PagePart(name) if name == "cursor" else None

        return self.known(selection, part_of)

    def known(
        self, selection: SelectionPlan, part_of: Callable[[str, FieldPlan], Part | None]
    ) -> Object:
        """An object of a type of `core.graphql.connections` (a connection, an edge, a
        pageInfo): `part_of` says what each field is, None for one it does not know."""
        fields: list[tuple[str, Part]] = []
        for field_plan in selection.fields:
            name = _name(field_plan)
            part: Part | None = (
                Literal(_json(selection.type.name))
                if name == "__typename"
                else part_of(name, field_plan)
            )
            if part is None:
                raise Unfit
            fields.append((field_plan.key, part))
        return Object(fields)

    def object(self, selection: SelectionPlan, model: Any) -> Object:
        """An object of `model`'s rows: the GraphQL type must be of that model."""
        if model is None or model_of(_origin(selection)) is not model:
            raise Unfit
        return Object([(f.key, self.field(f, model, selection)) for f in selection.fields])

    def field(self, plan: FieldPlan, model: Any, selection: SelectionPlan) -> Part:
        if plan.how == "typename":
            return Literal(_json(selection.type.name))
        sfield = plan.strawberry_field
        if sfield is None or sfield.extensions:
            raise Unfit
        declaration = declared(sfield)
        if isinstance(declaration, GlobalId):
            return Id(declaration.type_name)
        if isinstance(declaration, ToOne):
            target = declaration.loader.record.model
            one = self.object(_selection(plan.completion), target)
            return One(declaration, target, one, "null" if plan.completion.nullable else FAIL)
        if isinstance(declaration, ChildPages):
            return self.conn(plan)
        if plan.how == "attribute":
            return _column(plan, model, sfield.python_name)
        raise Unfit


# Values: each column type formatted as its GraphQL scalar serializes the Python value.


def _lit(text: str) -> ColumnElement[str]:
    return literal_column("'" + text.replace("'", "''") + "'", Text)


def _text(text: str) -> ColumnElement[str]:
    return literal_column("chr(1)", Text) if text == FAIL else _lit(text)


def _unless_null(text: ColumnElement[str]) -> ColumnElement[str]:
    """FAIL for a NULL: text made by `||` is NULL if any of its pieces is (an infinite
    timestamp has no `to_char`), and `string_agg` would drop it silently."""
    return func.coalesce(text, _text(FAIL))


def _cat(*parts: ColumnElement[Any] | str) -> ColumnElement[str]:
    """SQL text pieces and literal ones concatenated (adjacent literals merged)."""
    merged: list[ColumnElement[Any]] = []
    pending = ""
    for part in parts:
        if isinstance(part, str):
            pending += part
            continue
        if pending:
            merged.append(_lit(pending))
            pending = ""
        merged.append(part)
    if pending or not merged:
        merged.append(_lit(pending))
    return reduce(lambda a, b: a.op("||", return_type=Text)(b), merged)


def _json_object(values: list[tuple[str, ColumnElement[Any] | str]]) -> ColumnElement[str]:
    pieces: list[ColumnElement[Any] | str] = ["{"]
    for n, (key, value) in enumerate(values):
        pieces += [("," if n else "") + _json(key) + ":", value]
    return _cat(*pieces, "}")


def _string(column: ColumnElement[Any]) -> ColumnElement[str]:
    return cast(func.to_json(column), Text)


def _datetime(column: ColumnElement[Any]) -> ColumnElement[str]:
    """`datetime.isoformat()` of an aware UTC timestamp: microseconds only if not 0."""
    utc = func.timezone(_lit("UTC"), column)
    micro = func.to_char(utc, _lit("US"))
    text = _cat(
        func.to_char(utc, _lit('YYYY-MM-DD"T"HH24:MI:SS')),
        case((micro == _lit("000000"), _lit("")), else_=_cat(".", micro)),
        "+00:00",
    )
    return _cat('"', text, '"')


def _money(column: ColumnElement[Any]) -> ColumnElement[str]:
    """`str()` of the Decimal the cents read as: two places, always."""
    cents = type_coerce(column, BigInteger)
    return _cat('"', cast(cents * literal_column("0.01"), Text), '"')


def _number(column: ColumnElement[Any]) -> ColumnElement[str]:
    return cast(column, Text)


def _int(column: ColumnElement[Any]) -> ColumnElement[str]:
    low, high = (literal_column(str(n), BigInteger) for n in INT_RANGE)
    within = type_coerce(column, BigInteger).between(low, high)
    return case((within, cast(column, Text)), else_=_text(FAIL))


def _boolean(column: ColumnElement[Any]) -> ColumnElement[str]:
    return case((column, _lit("true")), else_=_lit("false"))


def _format(sql_type: Any, graphql_type: Any) -> Callable[[ColumnElement[Any]], ColumnElement[str]]:
    name = graphql_type.name
    if isinstance(sql_type, Enum):
        # Stored by member name, which is the name of the GraphQL value.
        enum = getattr(graphql_type.extensions.get(DEFINITION), "wrapped_cls", None)
        if (
            isinstance(graphql_type, GraphQLEnumType)
            and sql_type.enum_class is enum
            and not sql_type.values_callable
        ):
            return _string
    elif isinstance(sql_type, String) and name in ("String", "ID"):
        return _string
    elif isinstance(sql_type, Boolean) and name == "Boolean":
        return _boolean
    elif isinstance(sql_type, Integer) and name == "Int":
        return _int
    elif isinstance(sql_type, UTCDateTime) and name == "DateTime":
        return _datetime
    elif isinstance(sql_type, Money) and name == "Decimal":
        return _money
    raise Unfit


def _column(plan: FieldPlan, model: Any, name: str) -> Column:
    completion = plan.completion
    columns = inspect(model).columns
    if not isinstance(completion, LeafCompletion) or name not in columns:
        raise Unfit
    column = columns[name]
    on_null = ("null" if completion.nullable else FAIL) if column.nullable else None
    return Column(name, _format(column.type, completion.type), on_null)


def _cursor_value(sql_type: Any) -> Callable[[ColumnElement[Any]], ColumnElement[str]]:
    """JSON of a sort value as a cursor holds it (`core.db.keyset._plain`)."""
    if isinstance(sql_type, UTCDateTime):
        return _datetime
    if isinstance(sql_type, Money):
        return _money
    if isinstance(sql_type, Integer):
        return _number
    if isinstance(sql_type, String):
        return _string
    raise Unfit


# The years a datetime holds: PostgreSQL's other timestamps (BC, past 9999) do not load.
_EARLIEST = literal_column("'0001-01-01 00:00:00+00'::timestamptz", DateTime)
_LATEST = literal_column("'9999-12-31 23:59:59.999999+00'::timestamptz", DateTime)


def _loadable(model: Any, columns: Columns) -> ColumnElement[bool]:
    """Whether the row loads as the plan's records do: an enum column holds a name its
    enum has, a timestamp a year a datetime has. The app writes no others, but a row
    written by hand may hold them, and the plan then answers an error."""
    checks: list[ColumnElement[bool]] = []
    for name, column in inspect(model).columns.items():
        if isinstance(column.type, Enum):
            names = [_lit(value) for value in column.type.enums]
            checks.append(or_(columns(name).is_(None), columns(name).in_(names)))
        elif isinstance(column.type, UTCDateTime):
            within = type_coerce(columns(name), DateTime).between(_EARLIEST, _LATEST)
            checks.append(or_(columns(name).is_(None), within))
    return and_(true(), *checks)


def _base64(text: ColumnElement[str]) -> ColumnElement[str]:
    """URL-safe base64 of the text's UTF-8, padded (`encode` breaks its lines: undone)."""
    encoded = func.encode(func.convert_to(text, _lit("UTF8")), _lit("base64"))
    return func.translate(encoded, _cat("+/", literal_column("chr(10)", Text)), _lit("-_"))


def _global_id(type_name: str, pk: ColumnElement[Any]) -> ColumnElement[str]:
    """`relay.to_global_id`: unpadded URL-safe base64 of `Type:pk`."""
    unpadded = func.rtrim(_base64(_cat(type_name + ":", cast(pk, Text))), _lit("="))
    return _cat('"', unpadded, '"')


# Statements: a tree made SQL for the shapes of the lists a request reads.


def _prefixed(stmt: Select[Any], prefix: str) -> Select[Any]:
    """The statement with its bound parameters renamed `prefix + name`."""

    def rename(element: Any) -> Any:
        if isinstance(element, BindParameter) and not element.unique:
            return bindparam(
                prefix + element.key,
                value=element.value,
                type_=element.type,
                required=element.required,
            )
        return None

    traverse: Any = replacement_traverse  # typed for ColumnElements; a Select goes too
    renamed: Select[Any] = traverse(stmt, {}, rename)
    return renamed


def _numbered(key: SortKey, model: Any) -> ColumnElement[int]:
    return func.row_number().over(order_by=key.order_by(model)).label("_n")


@dataclass(slots=True)
class Page:
    """A connection's page while its SQL is built: what its parts are made of."""

    conn: Conn
    read: PageSource | ChildList
    rows: Any  # the subquery of the page's rows, numbered `_n`
    count: Any  # a select of the list's count
    first: ColumnElement[int]

    @property
    def in_page(self) -> ColumnElement[bool]:
        number: ColumnElement[int] = self.rows.c._n
        return number <= self.first

    def cursor(self) -> ColumnElement[str]:
        """`SortKey.cursor` of a row: base64 of `[name, value...]` as JSON."""
        key, mapped = self.read.key, inspect(self.conn.model).columns
        pieces: list[ColumnElement[Any] | str] = ["[" + _json(key.name)]
        for name in key.columns:
            pieces += [",", _cursor_value(mapped[name].type)(self.rows.c[name])]
        return _unless_null(_base64(_cat(*pieces, "]")))

    def listed(self, element: ColumnElement[str]) -> ColumnElement[str]:
        ordered = aggregate_order_by(_lit(","), self.rows.c._n)
        joined = func.string_agg(_unless_null(element), ordered)
        return _cat("[", func.coalesce(joined.filter(self.in_page), _lit("")), "]")

    def part(self, name: str) -> ColumnElement[str] | str:
        if name == "cursor":
            return _cat('"', self.cursor(), '"')
        if name == "total_count":
            return cast(self.count.scalar_subquery(), Text)
        if name == "has_next_page":
            return case((func.count() > self.first, _lit("true")), else_=_lit("false"))
        if name == "has_previous_page":
            return "true" if self.read.page.after is not None else "false"
        order = self.rows.c._n if name == "start_cursor" else self.rows.c._n.desc()
        cursors = func.array_agg(aggregate_order_by(self.cursor(), order)).filter(self.in_page)
        first = type_coerce(cursors, ARRAY(Text))[literal_column("1")]
        return func.coalesce(_cat('"', first, '"'), _lit("null"))


class Build:
    """The statement of a tree for the lists one request reads (`lists`, by index)."""

    def __init__(self, tree: Tree, lists: list[PageSource | ChildList]) -> None:
        self.tree = tree
        self.lists = lists
        self.aliases = 0

    def statement(self) -> Select[Any]:
        return self.conn(self.tree.root, None)

    def alias(self, model: Any) -> Any:
        self.aliases += 1
        return aliased(model, name=f"t{self.aliases}")

    def object(self, node: Object, columns: Columns | None, page: Page | None) -> Any:
        return _json_object([(k, self.part(p, columns, page)) for k, p in node.fields])

    def part(self, part: Part, columns: Columns | None, page: Page | None) -> Any:
        """A part's SQL, of the row `columns` reads (if any) of `page` (if any)."""
        if isinstance(part, Literal):
            return part.json
        if isinstance(part, Object):
            return self.object(part, columns, page)
        if isinstance(part, PagePart):
            assert page is not None
            return page.part(part.name)
        if isinstance(part, Listed):
            assert page is not None
            return page.listed(self.object(part.element, page.rows.c.__getitem__, page))
        if isinstance(part, Conn):
            return self.conn(part, columns).scalar_subquery()
        assert columns is not None
        if isinstance(part, Id):
            return _global_id(part.type_name, columns("id"))
        if isinstance(part, Column):
            column = columns(part.name)
            text = part.format(column)
            if part.on_null is None:
                return text
            return case((column.is_(None), _text(part.on_null)), else_=text)
        target = self.alias(part.model)
        key = getattr(target, part.declaration.loader.column) == columns(part.declaration.key)
        # No row (a NULL) is "null" or FAIL as the schema says; a NULL object is FAIL,
        # and so is a row the plan could not load.
        target_columns: Columns = lambda name: getattr(target, name)  # noqa: E731
        value = _unless_null(self.object(part.object, target_columns, None))
        loaded = case((_loadable(part.model, target_columns), value), else_=_text(FAIL))
        found = select(loaded).where(key).scalar_subquery()
        return func.coalesce(found, _text(part.on_null))

    def conn(self, conn: Conn, outer: Columns | None) -> Select[Any]:
        """A select of the connection's JSON (of `outer`'s row, for a parent's children)."""
        read = self.lists[conn.index]
        rows, count = self.rows_and_count(conn, read, outer)
        page = Page(
            conn,
            read,
            rows.subquery(f"p{conn.index}"),
            count,
            literal_column(str(read.page.first), Integer),
        )
        # Over every row read, the extra one included, as the plan loads them all; and an
        # aggregate, so the select has one row whatever the page holds.
        every = func.coalesce(func.bool_and(_loadable(conn.model, page.rows.c.__getitem__)), true())
        answer = case((every, self.object(conn.object, None, page)), else_=_text(FAIL))
        return select(answer).select_from(page.rows)

    def rows_and_count(
        self, conn: Conn, read: PageSource | ChildList, outer: Columns | None
    ) -> tuple[Any, Any]:
        """The page's rows (`first + 1`, numbered `_n`) and a count of the whole list."""
        key = read.key
        rows: Any  # Selects, which mypy types by their columns
        count: Any
        if isinstance(read, PageSource):
            if read.record.model is not conn.model:
                raise Unfit
            model, parents = read.record.model, None
            rows = read.where.with_only_columns(
                *read.record.columns(), _numbered(key, model), maintain_column_froms=True
            )
            count = read.where.with_only_columns(func.count(), maintain_column_froms=True)
        else:
            declaration = conn.declaration
            assert isinstance(declaration, ChildPages) and outer is not None
            pages, counts = declaration.pages, declaration.counts
            shape = None if read.where is None else read.where.shape
            model, counted = self.alias(pages.record.model), self.alias(counts.model)
            rows = select(*pages.record.columns(model), _numbered(key, model))
            rows = rows.where(*pages.conditions(shape, model))
            count = select(func.count()).select_from(counted)
            count = count.where(*counts.conditions(shape, counted))
            parent = outer(declaration.parent_key)
            parents = (
                getattr(model, pages.parent) == parent,
                getattr(counted, counts.parent) == parent,
            )
        if read.page.after is not None:
            rows = rows.where(key.after_bound(model))
        # A root page's size is written in: bound, it made PostgreSQL plan every
        # execution again (0.41 ms a page of items, 0.23 written in). A child page's is
        # bound: written in, the planner sorted each parent's few children instead of
        # reading them off the index in order (0.45 ms a page of users, 0.38 bound).
        size: ColumnElement[int] = (
            literal_column(str(read.page.first + 1)) if parents is None else bindparam("rows")
        )
        rows = rows.order_by(*key.order_by(model)).limit(size)
        # Renamed before the parent's row joins them, which is not to be copied.
        prefix = f"c{conn.index}_"
        rows, count = _prefixed(rows, prefix), _prefixed(count, prefix)
        if parents is not None:
            # Of the parent's row: its page is a FROM of the select around, not of these.
            rows = rows.where(parents[0]).correlate_except(model)
            count = count.where(parents[1]).correlate_except(counted)
        return rows, count


# Requests: the lists a request reads, the statement of their shapes, and its answer.


def _shape(read: PageSource | ChildList) -> Hashable:
    page = (read.page.first, read.page.after is not None)
    if isinstance(read, PageSource):
        # `where` is built once per shape by its maker: the same object for the same shape.
        return (read.record, id(read.where), read.key, page)
    return (read.key, None if read.where is None else read.where.shape, page)


def _parameters(read: PageSource | ChildList, prefix: str) -> dict[str, Any]:
    if isinstance(read, PageSource):
        values = dict(read.filters)
    else:
        values = {} if read.where is None else read.where.parameters()
        values["rows"] = read.page.first + 1  # (`Build.rows_and_count`)
    if read.page.after is not None:
        values.update(read.key.after_parameters(read.page.after))
    return {prefix + name: value for name, value in values.items()}


async def _permitted(run: Any, plan: FieldPlan, arguments: dict[str, Any]) -> bool:
    """Whether the field's permission classes let this request read it."""
    sfield: Any = plan.strawberry_field
    if not sfield.extensions:
        return True
    info = run.strawberry_info(plan)
    for extension in sfield.extensions:
        for permission in extension.permissions:
            allowed = permission.has_permission(None, info, **arguments)
            if run.is_awaitable(allowed):
                allowed = await allowed
            if allowed is not True:
                return False
    return True


class SqlField:
    """A root field of a plan, answered by PostgreSQL where its tree fits (`tree`)."""

    def __init__(self, plan: FieldPlan, statements: Statements) -> None:
        self.plan = plan
        self.statements = statements
        self._key = object()  # in the statements' keys: not reused, as an id may be
        try:
            self.tree: Tree | None = Tree(plan)
        except Unfit:
            self.tree = None

    async def answer(self, run: Any) -> orjson.Fragment | None:
        """The field's JSON, or None where the plan is to answer it (an error, say)."""
        tree = self.tree
        assert tree is not None, "only fields that fit are answered"
        reads = run.executor.context_value.reads
        lists: list[PageSource | ChildList] = []
        for conn in tree.conns:
            try:
                read = await self._list(run, conn)
            except Exception:
                return None  # the client's error, most likely: the plan reports it its way
            if read is None:
                return None
            lists.append(read)
        statement = self._statement(tree, lists, reads.engine.dialect)
        if statement is None:
            return None
        parameters: dict[str, Any] = {}
        for n, read in enumerate(lists):
            parameters.update(_parameters(read, f"c{n}_"))
        async with reads.connection() as conn:
            text = await statement.one(conn, parameters)
        if not isinstance(text, str) or FAIL in text:
            return None
        return orjson.Fragment(text)

    def _statement(
        self, tree: Tree, lists: list[PageSource | ChildList], dialect: Any
    ) -> Value | None:
        key = (self._key, *(_shape(read) for read in lists))
        found = self.statements.get(key)
        if found is not None or not self.statements.may_build():
            return found
        try:
            statement = Value(Build(tree, lists).statement(), dialect)
        except Unfit:
            return None
        self.statements.add(key, statement, [read.where for read in lists])
        return statement

    async def _list(self, run: Any, conn: Conn) -> PageSource | ChildList | None:
        """Which list and page the connection's arguments ask for; None if not permitted."""
        plan = conn.plan
        sfield: Any = plan.strawberry_field
        arguments = run.converted_arguments(plan) if sfield.arguments else {}
        declaration = conn.declaration
        if isinstance(declaration, ChildPages):
            return declaration.arguments(**arguments)
        if not await _permitted(run, plan, arguments):
            return None
        return await declaration.source(run.executor.context_value, **arguments)
