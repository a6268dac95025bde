"""The private names of Strawberry, graphql-core and cross-web this server reads, in one place.

Nothing else in `graphql_api` touches a `_`-name of these libraries: it calls the small
functions and classes here. Each was written for the versions in `WRITTEN_FOR`, which
`pyproject.toml` pins too, and `tests/core/test_internals.py` exercises every one of them
against the installed libraries, so an upgrade that moves one fails there first. To
upgrade: widen the pin, run that test, fix what moved here (and nowhere else).

Inventory (library, private name: what for; who calls it):
- Strawberry, `Schema._schema`: the graphql-core schema a Strawberry schema builds, which
  validation, cost pricing and graphql-core's executor take (`graphql_core_schema`; limits,
  documents.persisted, http.fast_path, cli).
- Strawberry, `GraphQLSchema._strawberry_schema`: the way back, from the graphql-core
  schema an executor holds to the Strawberry one, its plans and config
  (`strawberry_schema`; execution, engine.run).
- Strawberry, `Schema._create_execution_context`: the hook that builds an operation's
  execution context, overridden to pick the operation as the spec does
  (`ExecutionContextSchema`; schema).
- Strawberry, `ExecutionContext._provided_operation_name`: the operationName of the request,
  before Strawberry guesses one (`provided_operation_name`; execution).
- Strawberry, the `_is_default` mark on the graphql-core resolvers it builds for plain
  attributes, read through `strawberry.resolvers.is_default_resolver`
  (`is_default_resolver`; engine.plans).
- Strawberry, `Info(_raw_info=..., _field=...)`: the constructor's private fields, for the
  Info a resolver called straight from a plan gets (`new_info`; engine.run).
- Strawberry, `BaseGraphQLTransportWSHandler._task_done`: the done callback of its tasks,
  extended to let go of a cancelled task at once (`LetsCancelledTasksGo`; http.websocket).
- graphql-core, `Executor._relevant_sub_fields`: the memo of collected sub-fields that
  `build_per_event_executor` shares with every event's executor (`forget_sub_fields`;
  execution).
- graphql-core, `Executor.cancellable_iterable` (public in name, private in its docs): the
  method every subscription's source event stream passes through, extended to wrap the
  source (`WrapsSubscriptionSources`; execution, for `core.graphql.fanout.follow`).
- graphql-core, `Executor.build_response` and `Executor.collected_errors` (private in its
  docs): where an execution's errors become its response, extended to let go of them
  there (`HandsOverErrors`; execution).
- cross-web, `StarletteRequestAdapter._request`: the Starlette request the adapter wraps,
  for its ASGI scope (`starlette_request`; http.view).
"""

import asyncio
from collections.abc import AsyncIterable, Callable, Iterable
from contextlib import suppress
from typing import Any, Protocol

import strawberry
from cross_web import StarletteRequestAdapter
from graphql import GraphQLResolveInfo, GraphQLSchema
from graphql.execution import ExecutionResult, Executor
from graphql.execution.executor import CollectedErrors
from starlette.requests import Request
from strawberry.resolvers import is_default_resolver as _strawberry_is_default
from strawberry.types import ExecutionContext, Info
from strawberry.types.field import StrawberryField
from strawberry.types.graphql import OperationType

# The distributions whose private names this module reads, and the versions it was
# written for; pyproject.toml declares the same ranges.
WRITTEN_FOR = {
    "strawberry-graphql": ">=0.341.2,<0.342",
    "graphql-core": ">=3.3.2,<3.4",
    "cross-web": ">=0.9.0,<0.10",
}


class HasGraphQLCoreSchema(Protocol):
    """A Strawberry schema, as far as `graphql_core_schema` needs one."""

    _schema: GraphQLSchema


def graphql_core_schema(schema: HasGraphQLCoreSchema) -> GraphQLSchema:
    """The graphql-core schema that a Strawberry schema built (and executes on)."""
    return schema._schema


def strawberry_schema(schema: GraphQLSchema) -> Any:
    """The Strawberry schema that built this graphql-core schema."""
    return schema._strawberry_schema  # type: ignore[attr-defined]


def provided_operation_name(context: ExecutionContext) -> str | None:
    """The operationName the request sent, None if it sent none (not Strawberry's guess)."""
    return context._provided_operation_name


def is_default_resolver(resolve: Callable[..., Any] | None) -> bool:
    """Whether Strawberry made this graphql-core resolver to read a plain attribute."""
    return resolve is not None and _strawberry_is_default(resolve)


def new_info(
    info_class: type[Info], raw_info: GraphQLResolveInfo[Any], field: StrawberryField
) -> Info:
    """The Info Strawberry would pass a resolver of `field` (`info_class` is its config's)."""
    return info_class(_raw_info=raw_info, _field=field)


def forget_sub_fields(executor: Executor[Any]) -> None:
    """Give an executor a memo of collected sub-fields of its own, empty."""
    executor._relevant_sub_fields = {}


def starlette_request(adapter: StarletteRequestAdapter) -> Request:
    """The Starlette request behind cross-web's adapter."""
    return adapter._request


class ExecutionContextSchema(strawberry.Schema):
    """A Strawberry schema whose operations run with an `execution_context_type`."""

    execution_context_type: type[ExecutionContext] = ExecutionContext

    def _create_execution_context(
        self,
        query: str | None,
        allowed_operation_types: Iterable[OperationType],
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionContext:
        """Strawberry's own (0.341), with the class of the context left to the subclass."""
        return self.execution_context_type(
            query=query,
            schema=self,
            allowed_operations=allowed_operation_types,
            context=context_value,
            root_value=root_value,
            variables=variable_values,
            provided_operation_name=operation_name,
            operation_extensions=operation_extensions,
        )


class LetsCancelledTasksGo:
    """For a subclass of Strawberry's graphql-transport-ws handler (put it before that base).

    A task keeps the CancelledError that ended it, whose traceback holds the task's own
    frames, and so the task: a cycle of the whole subscription (~200 objects) left to the
    cyclic collector. Taking the error hands it over, and it all goes now.
    """

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            with suppress(asyncio.CancelledError):
                task.result()
            return
        super()._task_done(task)  # type: ignore[misc]


class HandsOverErrors:
    """For a subclass of graphql-core's Executor (put it before that base).

    An error's traceback holds the frames it went through, which hold the executor, and the
    executor holds its errors: a cycle of the whole failed execution (its context, loaders
    and every record they read) left to the cyclic collector. Once the response has the
    errors, the executor lets go of them, and it all goes with the response.
    """

    collected_errors: CollectedErrors

    def build_response(self, data: dict[str, Any] | None) -> ExecutionResult:
        response = super().build_response(data)  # type: ignore[misc]  # the Executor's, next in the MRO
        self.collected_errors = CollectedErrors()
        return response  # type: ignore[no-any-return]  # graphql-core's ExecutionResult


class WrapsSubscriptionSources:
    """For a subclass of graphql-core's Executor (put it before that base): each
    subscription's source event stream goes through `wrap_source` first."""

    def wrap_source(self, source: AsyncIterable[Any]) -> AsyncIterable[Any]:
        return source

    def cancellable_iterable(self, iterable: AsyncIterable[Any]) -> AsyncIterable[Any]:
        wrapped = super().cancellable_iterable(self.wrap_source(iterable))  # type: ignore[misc]  # the Executor's, next in the MRO
        return wrapped  # type: ignore[no-any-return]  # graphql-core's AsyncIterable
