"""What clients see of errors, and what the log keeps.

Parse, validation and the public errors of `core.errors` reach the client as they
are; anything else is replaced by "Internal server error" with nothing from the
exception, while the log gets the traceback and the request id.
"""

import logging

from graphql import GraphQLError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext

logger = logging.getLogger("graphql_api.errors")

INTERNAL_MESSAGE = "Internal server error"
INTERNAL_CODE = "INTERNAL_SERVER_ERROR"
BUSY_MESSAGE = "The server is busy: try again shortly."
BUSY_CODE = "SERVICE_UNAVAILABLE"


def _busy(error: GraphQLError) -> bool:
    """No database connection came free in time (`db_pool_timeout_seconds`)."""
    return isinstance(error.original_error, PoolTimeout)


# What Strawberry raises for an operation a transport does not run (a query over the
# legacy graphql-ws protocol, a mutation over GET) or cannot find: the client's doing.
CLIENT_MISTAKES = (GraphQLError, InvalidOperationTypeError, CannotGetOperationTypeError)


def is_unexpected(error: GraphQLError) -> bool:
    """An error no client caused: it came from an exception that is not a GraphQLError."""
    original = error.original_error
    return original is not None and not isinstance(original, CLIENT_MISTAKES)


class MaskInternalErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=INTERNAL_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        if _busy(error):
            masked.message = BUSY_MESSAGE
            masked.extensions = {"code": BUSY_CODE}
        else:
            masked.extensions = {"code": INTERNAL_CODE}
        return masked


_MASK = MaskInternalErrors()


def mask_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors as MaskInternalErrors gives them to the client."""
    return [_MASK.anonymise_error(error) if is_unexpected(error) else error for error in errors]


def log_unexpected_errors(
    errors: list[GraphQLError], execution_context: ExecutionContext | None
) -> None:
    """Log server faults with their traceback; a client's mistakes are not server errors."""
    context = getattr(execution_context, "context", None)
    log_errors(
        errors,
        request_id=getattr(context, "request_id", None),
        operation=getattr(execution_context, "operation_name", None),
    )


def log_errors(
    errors: list[GraphQLError], *, request_id: str | None, operation: str | None
) -> None:
    """`log_unexpected_errors` for an operation's request id and name."""
    for error in errors:
        if _busy(error):
            logger.warning(
                "no database connection came free in time in %s (request %s)",
                operation or "anonymous operation",
                request_id,
            )
        elif is_unexpected(error):
            logger.error(
                "unexpected error in %s at %s (request %s)",
                operation or "anonymous operation",
                ".".join(str(p) for p in error.path or ()),
                request_id,
                exc_info=error.original_error,
            )
