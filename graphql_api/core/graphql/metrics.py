"""The schema extension that counts what Strawberry's executor answers (`core.metrics`)."""

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from graphql_api.core.metrics import record_operation


class OperationMetrics(SchemaExtension):
    """Counts what Strawberry's executor answers (the fast path counts its own)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # no document, or no such operation: a request error
            kind = "invalid"
        result = context.result
        errors = (result.errors if result is not None else context.pre_execution_errors) or ()
        record_operation(context.operation_name, kind, time.perf_counter() - started, errors)
