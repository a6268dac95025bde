"""The other libraries' internals that `core.graphql.internals` and `core.db.internals` read are
where those modules expect them: each accessor runs here on the installed libraries' own
objects, and the installed versions are inside the ranges they were written for.

A failure here after an upgrade names what moved: fix it in the internals module, then
widen the pin (the module's `WRITTEN_FOR` and pyproject.toml's dependency alike).
"""

import asyncio
import dataclasses
import gc
import inspect
import tomllib
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

import pytest
import strawberry
from cross_web import StarletteRequestAdapter
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    parse,
    subscribe,
)
from graphql.execution import Executor
from graphql.pyutils import Path as ResponsePath
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from sqlalchemy import event, text
from sqlalchemy.events import ConnectionEvents
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.requests import Request
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from graphql_api.core.db import internals as db_internals
from graphql_api.core.db.internals import announce_statement, wait_in_listener
from graphql_api.core.graphql import internals as graphql_internals
from graphql_api.core.graphql.execution import GraphQLApiExecutor
from graphql_api.core.graphql.internals import (
    ExecutionContextSchema,
    HandsOverErrors,
    LetsCancelledTasksGo,
    WrapsSubscriptionSources,
    forget_sub_fields,
    graphql_core_schema,
    is_default_resolver,
    new_info,
    provided_operation_name,
    starlette_request,
    strawberry_schema,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
SEEN_INFOS: list[strawberry.Info] = []


@strawberry.type
class Tick:
    n: int


@strawberry.type
class Query:
    plain: str = "plain"

    @strawberry.field
    def greeting(self, info: strawberry.Info, name: str = "you") -> str:
        SEEN_INFOS.append(info)
        return f"hello {name}"

    @strawberry.field
    def tick(self) -> Tick:
        return Tick(n=1)

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("a resolver failed")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncIterator[Tick]:
        yield Tick(n=1)


def written_for() -> dict[str, str]:
    return {**graphql_internals.WRITTEN_FOR, **db_internals.WRITTEN_FOR}


@pytest.mark.parametrize("distribution", sorted(written_for()))
def test_installed_version_is_one_the_internals_were_written_for(distribution: str) -> None:
    assert version(distribution) in SpecifierSet(written_for()[distribution])


@pytest.mark.parametrize("distribution", sorted(written_for()))
def test_pyproject_pins_the_same_range(distribution: str) -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    pins = {canonicalize_name(r.name): r.specifier for r in (Requirement(d) for d in dependencies)}
    assert pins[canonicalize_name(distribution)] == SpecifierSet(written_for()[distribution])


# Strawberry and graphql-core.


def test_graphql_core_schema_and_back() -> None:
    schema = strawberry.Schema(query=Query)
    core = graphql_core_schema(schema)
    assert isinstance(core, GraphQLSchema)
    assert core.query_type is not None and set(core.query_type.fields) == {
        "plain",
        "greeting",
        "tick",
        "broken",
    }
    assert strawberry_schema(core) is schema


def test_default_resolvers_are_told_apart() -> None:
    fields = graphql_core_schema(strawberry.Schema(query=Query)).query_type.fields  # type: ignore[union-attr]
    assert is_default_resolver(fields["plain"].resolve)  # the engine reads it as an attribute
    assert not is_default_resolver(fields["greeting"].resolve)
    assert not is_default_resolver(None)


def _executor(schema: strawberry.Schema, query: str, **kwargs: Any) -> Any:
    executor = Executor.build(graphql_core_schema(schema), parse(query), **kwargs)
    assert isinstance(executor, Executor), executor
    return executor


async def test_new_info_is_the_info_strawberry_passes() -> None:
    schema = strawberry.Schema(query=Query)
    SEEN_INFOS.clear()
    result = await schema.execute("{ greeting }", context_value="the context")
    assert result.errors is None
    (seen,) = SEEN_INFOS
    # The Info a plan builds is made of the same two fields as Strawberry's own.
    assert type(seen) is schema.config.info_class
    assert [f.name for f in dataclasses.fields(seen)] == ["_raw_info", "_field"]

    executor = _executor(schema, "{ greeting }", context_value="the context")
    query_type = graphql_core_schema(schema).query_type
    assert isinstance(query_type, GraphQLObjectType)
    definition = query_type.fields["greeting"]
    operation = executor.operation
    assert isinstance(operation, OperationDefinitionNode)
    node = operation.selection_set.selections[0]
    assert isinstance(node, FieldNode)
    raw = executor.build_resolve_info(
        definition, [node], query_type, ResponsePath(None, "greeting", "Query")
    )
    field = definition.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
    info = new_info(schema.config.info_class, raw, field)
    assert type(info) is type(seen)
    assert (info.field_name, info.context, info.schema) == ("greeting", "the context", schema)
    assert (info.path.key, info.return_type) == (seen.path.key, seen.return_type)
    assert info.selected_fields == seen.selected_fields


def test_provided_operation_name_is_the_requests_alone() -> None:
    schema = strawberry.Schema(query=Query)

    query = "query A { plain } query B { plain }"

    def context(name: str | None) -> ExecutionContext:
        return ExecutionContext(
            query=query,
            schema=schema,
            allowed_operations=[OperationType.QUERY],
            provided_operation_name=name,
            graphql_document=parse(query),
        )

    assert provided_operation_name(context("B")) == "B"
    assert context(None).operation_name == "A"  # Strawberry's guess, which the spec refuses
    assert provided_operation_name(context(None)) is None


def test_execution_context_hook_has_strawberrys_signature() -> None:
    ours = inspect.signature(ExecutionContextSchema._create_execution_context)
    theirs = inspect.signature(strawberry.Schema._create_execution_context)
    assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == [
        (p.name, p.default, p.kind) for p in theirs.parameters.values()
    ]


class OwnContext(ExecutionContext):
    pass


class OwnContextSchema(ExecutionContextSchema):
    execution_context_type = OwnContext


async def test_operations_run_with_the_schemas_execution_context() -> None:
    seen: list[tuple[type, str | None]] = []

    class Record(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            seen.append((type(context), provided_operation_name(context)))
            yield

    schema = OwnContextSchema(query=Query, subscription=Subscription, extensions=[Record])
    result = await schema.execute(
        "query Named { plain }", root_value=Query(), operation_name="Named"
    )
    assert result.errors is None and result.data == {"plain": "plain"}
    events = await schema.subscribe("subscription { ticks { n } }")
    assert [event.data async for event in events] == [{"ticks": {"n": 1}}]
    assert seen == [(OwnContext, "Named"), (OwnContext, None)]


def test_graphql_core_memoises_sub_fields_where_it_is_reset() -> None:
    schema = strawberry.Schema(query=Query)
    executor = _executor(schema, "{ tick { n } }")
    assert executor._relevant_sub_fields == {}
    result = executor.execute_operation()
    assert result.errors is None and result.data == {"tick": {"n": 1}}
    assert executor._relevant_sub_fields  # where graphql-core keeps what it collected


def test_per_event_executors_get_a_memo_of_their_own() -> None:
    schema = strawberry.Schema(query=Query, subscription=Subscription)
    executor = _executor(schema, "subscription { ticks { n } }")
    shared = executor.build_per_event_executor({"ticks": Tick(n=1)})
    # Why `forget_sub_fields` is there: graphql-core shares the memo with every event.
    assert shared._relevant_sub_fields is executor._relevant_sub_fields
    forget_sub_fields(shared)
    assert shared._relevant_sub_fields == {}
    assert shared._relevant_sub_fields is not executor._relevant_sub_fields

    ours = GraphQLApiExecutor.build(
        graphql_core_schema(schema), parse("subscription { ticks { n } }")
    )
    event_executor = ours.build_per_event_executor({"ticks": Tick(n=1)})  # type: ignore[union-attr]
    assert event_executor._relevant_sub_fields is not ours._relevant_sub_fields  # type: ignore[union-attr]


class Wrapping(WrapsSubscriptionSources, Executor):  # type: ignore[misc]  # graphql-core's Executor is generic
    wrapped: ClassVar[list[Any]] = []

    def wrap_source(self, source: Any) -> Any:
        async def marked() -> AsyncIterator[Any]:
            async for value in source:
                yield Tick(n=value.n * 10)

        self.wrapped.append(source)
        return marked()


async def test_every_subscription_source_passes_through_cancellable_iterable() -> None:
    schema = strawberry.Schema(query=Query, subscription=Subscription)
    events = await subscribe(
        graphql_core_schema(schema),
        parse("subscription { ticks { n } }"),
        executor_class=Wrapping,
    )
    assert len(Wrapping.wrapped) == 1  # the source of this subscription, once
    results = [result async for result in events]  # type: ignore[union-attr]
    assert [r.data for r in results] == [{"ticks": {"n": 10}}]  # what the wrapper made of it


class Kept(Executor):  # type: ignore[misc]  # graphql-core's Executor is generic
    made: ClassVar[list[Executor]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.made.append(self)


class HandingOver(HandsOverErrors, Kept):
    pass


def test_an_executor_lets_go_of_the_errors_its_response_has() -> None:
    """(Their tracebacks hold the executor's frames: errors held both ways are a cycle.
    tests/test_no_cyclic_garbage.py checks that a failed request leaves none.)"""
    schema = graphql_core_schema(strawberry.Schema(query=Query))
    document = parse("{ plain broken }")
    for executor_class, held in ((Kept, 1), (HandingOver, 0)):
        executor_class.made.clear()
        result = execute(schema, document, Query(), executor_class=executor_class)
        assert isinstance(result, ExecutionResult)
        assert result.data == {"plain": "plain", "broken": None}
        assert [e.message for e in result.errors or ()] == ["a resolver failed"]
        (executor,) = executor_class.made
        assert len(executor.collected_errors.errors) == held, executor_class
        executor_class.made.clear()


# cross-web.


def test_starlette_request_is_the_one_the_adapter_wraps() -> None:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    request = Request(scope)
    adapter = StarletteRequestAdapter(request)
    assert starlette_request(adapter) is request
    assert starlette_request(adapter).scope is scope


# Strawberry's graphql-transport-ws handler (and asyncio's tasks).


class TransportHandler(LetsCancelledTasksGo, BaseGraphQLTransportWSHandler[None, None]):
    pass


def test_strawberry_calls_task_done_for_its_tasks() -> None:
    hook = BaseGraphQLTransportWSHandler._task_done
    assert list(inspect.signature(hook).parameters) == ["self", "task"]
    source = inspect.getsource(BaseGraphQLTransportWSHandler)
    assert "operation.task.add_done_callback(self._task_done)" in source


async def _cancelled_task() -> asyncio.Task[None]:
    """A cancelled task whose coroutine, like an operation's, refers to its own task."""

    async def forever(holder: dict[str, Any]) -> None:
        await asyncio.Event().wait()

    holder: dict[str, Any] = {}
    task = holder["task"] = asyncio.create_task(forever(holder))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait([task])  # not awaited itself: that would take the error
    return task


@contextmanager
def collector_off() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_a_cancelled_task_goes_without_the_cyclic_collector() -> None:
    handler = object.__new__(TransportHandler)  # the callback needs no socket
    with collector_off():
        task = await _cancelled_task()
        kept = weakref.ref(task)
        BaseGraphQLTransportWSHandler._task_done(handler, task)  # Strawberry's own
        del task
        assert kept() is not None  # held by its CancelledError's traceback: a cycle

        task = await _cancelled_task()
        gone = weakref.ref(task)
        handler._task_done(task)
        del task
        assert gone() is None
    gc.collect()


async def test_other_tasks_reach_strawberrys_task_done() -> None:
    handler = object.__new__(TransportHandler)

    async def fail() -> None:
        raise ValueError("an operation failed")

    task = asyncio.create_task(fail())
    await asyncio.wait([task])
    handler._task_done(task)  # Strawberry retrieves the error: no "never retrieved" warning
    assert isinstance(task.exception(), ValueError)


# SQLAlchemy.


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'internals.db'}")
    yield engine
    await engine.dispose()


async def test_wait_in_listener_awaits_inside_a_sync_listener(sqlite: AsyncEngine) -> None:
    traced: list[str] = []
    waited: list[int] = []

    @event.listens_for(sqlite.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        waited.append(wait_in_listener(asyncio.sleep(0, result=42)))
        driver = dbapi_connection.driver_connection
        wait_in_listener(driver.set_trace_callback(traced.append))

    async with sqlite.connect() as conn:
        assert (await conn.execute(text("SELECT 7"))).scalar() == 7
    assert waited == [42]
    assert "SELECT 7" in traced


async def test_announced_statements_reach_before_cursor_execute(sqlite: AsyncEngine) -> None:
    names = list(inspect.signature(ConnectionEvents.before_cursor_execute).parameters)
    assert names == ["self", "conn", "cursor", "statement", "parameters", "context", "executemany"]
    heard: list[tuple[Any, ...]] = []
    async with sqlite.connect() as conn:
        announce_statement(conn, "SELECT ?", [1])  # no listener yet: nothing to do

        @event.listens_for(sqlite.sync_engine, "before_cursor_execute")
        def listener(*args: Any) -> None:
            heard.append(args)

        announce_statement(conn, "SELECT ?", [2])
        assert heard == [(conn.sync_connection, None, "SELECT ?", [2], None, False)]
        await conn.execute(text("SELECT 3"))
    assert len(heard) == 2  # and SQLAlchemy's own statements alike
    with suppress(Exception):
        event.remove(sqlite.sync_engine, "before_cursor_execute", listener)
