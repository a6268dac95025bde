"""How operations execute: Strawberry's executor, with a memory fix for subscriptions."""

from typing import Any

from graphql.execution import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class GraphQLApiExecutor(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Executor:
        """An executor for one subscription event, with a memo of its own.

        graphql-core 3.3 shares the subscription's memo of collected sub-fields with
        every event's executor. Its keys are the identities of lists built anew for each
        event, so an open subscription would keep one more entry per event, for ever.
        """
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


class QuietExecutor(GraphQLApiExecutor):
    """For production: errors in variables suggest no names ("did you mean ...")."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)
