"""How operations execute: queries from compiled plans, the rest by Strawberry's executor."""

import weakref
from collections.abc import AsyncIterable
from typing import Any

from graphql import GraphQLResolveInfoHelpers, OperationDefinitionNode
from graphql import OperationType as GraphQLOperationType
from graphql.execution import ExecutionResult, Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from graphql_api.core.graphql.fanout import follow
from graphql_api.core.graphql.internals import (
    HandsOverErrors,
    WrapsSubscriptionSources,
    forget_sub_fields,
    provided_operation_name,
    strawberry_schema,
)
from graphql_api.core.metrics import EVENT_EXECUTIONS


class OperationNotFound(RuntimeError):
    """The document and operationName name no single operation: a request error."""


class OperationContext(ExecutionContext):
    """Picks the operation as the GraphQL spec does (GetOperation), not the first one.

    Strawberry runs a document's first operation when no operationName is given, even
    when there are several; the spec makes that a request error, as graphql-core does.
    """

    def _operation(self) -> OperationDefinitionNode | None:
        document = self.graphql_document
        if document is None:
            return None
        name = provided_operation_name(self)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if name is not None:
            for operation in operations:
                if operation.name and operation.name.value == name:
                    return operation
            raise OperationNotFound(f'Unknown operation named "{name}".')
        if not operations:
            raise OperationNotFound("Must provide an operation.")
        if len(operations) > 1:
            raise OperationNotFound(
                "Must provide operation name if query contains multiple operations."
            )
        return operations[0]

    @property
    def operation_name(self) -> str | None:
        if provided_operation_name(self) is not None:
            return provided_operation_name(self)
        try:
            operation = self._operation()
        except OperationNotFound:
            return None
        return operation.name.value if operation and operation.name else None

    @property
    def operation_type(self) -> OperationType:
        # Strawberry turns the error into CannotGetOperationTypeError, the view into a
        # GraphQL error (`core.http.view`).
        operation = self._operation()
        if operation is None:
            raise RuntimeError("No GraphQL document available")
        return OperationType(operation.operation.value)


class GraphQLApiExecutor(
    HandsOverErrors, WrapsSubscriptionSources, StrawberryGraphQLCoreExecutionContext
):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core binds these helpers to the executor: a reference cycle, so each
        # request's executor, context, loaders and every record they hold outlived the
        # request until a full collection found them (a fifth of the CPU of a page of
        # users under load). Held weakly, they all go as soon as the request is done.
        this = weakref.proxy(self)
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=lambda values: this.gather_async_work(values),
            track=lambda values: this.track_async_work(values),
        )

    def execute_operation(self, serially: bool | None = None) -> Any:
        """A query runs from its plan (`core.graphql.engine.plans`); graphql-core answers what
        that cannot."""
        if self.operation.operation is GraphQLOperationType.MUTATION:
            return self._then_end_sign_ins(super().execute_operation(serially))
        plans = getattr(strawberry_schema(self.schema), "plans", None)
        compiled = None if serially or plans is None else plans.run(self)
        if compiled is None:
            return super().execute_operation(serially)

        async def answer() -> Any:
            result: ExecutionResult | None = await compiled
            if result is not None:
                return result
            # From a clean slate, so that graphql-core's run goes exactly as it would have.
            self.context_value.forget()
            fallback = super(GraphQLApiExecutor, self).execute_operation(serially)
            return await fallback if self.is_awaitable(fallback) else fallback

        return answer()

    def _then_end_sign_ins(self, result: Any) -> Any:
        """The mutation's result, after which its sign-ins end (`Context.signed_in`).

        Over HTTP the context ends with the request anyway; a WebSocket's serves every
        operation of the connection, and a sign-in in one must not show in the next.
        """
        context = self.context_value
        if not self.is_awaitable(result):
            context.end_operation()
            return result

        async def ended() -> Any:
            try:
                return await result
            finally:
                context.end_operation()

        return ended()

    def wrap_source(self, source: AsyncIterable[Any]) -> AsyncIterable[Any]:
        """A subscription's events, with its live phase on a feed run in place
        (`core.graphql.fanout`)."""
        return follow(aiter(source), self)

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        """An executor for one subscription event, with a memo of its own.

        graphql-core 3.3 shares the subscription's memo of collected sub-fields with
        every event's executor. Its keys are the identities of lists built anew for each
        event, so an open subscription would keep one more entry per event, for ever.
        """
        EVENT_EXECUTIONS.inc()
        executor = super().build_per_event_executor(payload)
        forget_sub_fields(executor)
        return executor


class QuietExecutor(GraphQLApiExecutor):
    """For production: errors in variables suggest no names ("did you mean ...")."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)
