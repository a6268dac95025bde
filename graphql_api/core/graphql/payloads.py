"""GraphQL types shared by every feature: user errors and the delete payload."""

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import strawberry

from graphql_api.core.errors import ErrorCode, FieldError, InvalidInput

# strawberry.enum marks ErrorCode itself and returns it: annotations name ErrorCode.
UserErrorCode = strawberry.enum(
    ErrorCode,
    name="UserErrorCode",
    description="Why a mutation's input was refused.",
)


@strawberry.type(description="An expected failure of a mutation: nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["tags", "2"]; null for the '
        "input as a whole."
    )
    code: ErrorCode = strawberry.field(description="A stable code to branch on.")
    message: str = strawberry.field(description="A sentence to show to a person.")


def user_error(error: FieldError) -> UserError:
    return UserError(
        field=list(error.field) if error.field else None, code=error.code, message=error.message
    )


def user_errors(exc: InvalidInput) -> list[UserError]:
    return [user_error(e) for e in exc.errors]


@strawberry.type(description="The result of a delete mutation.")
class DeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The global ID of the deleted object; null on failure."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was deleted, if so."
    )


P = ParamSpec("P")
R = TypeVar("R")


def reports_user_errors(resolver: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap a mutation resolver: `InvalidInput` becomes its payload's `userErrors`.

    The payload class is the resolver's return annotation; its other fields default to
    null. Afterwards the request's loaders and viewer are dropped, so that the payload
    and any later mutation of the same document read what the mutation wrote.
    """
    payload_class: Callable[..., R] = inspect.signature(resolver).return_annotation

    @functools.wraps(resolver)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await resolver(*args, **kwargs)
        except InvalidInput as exc:
            return payload_class(user_errors=user_errors(exc))
        finally:
            # Strawberry passes the resolver's Info by keyword.
            kwargs["info"].context.forget()  # type: ignore[attr-defined]

    return wrapper


def given_fields(input: object, *names: str) -> dict[str, Any]:
    """The input fields the client set (explicit nulls included), by Python name."""
    return {n: getattr(input, n) for n in names if getattr(input, n) is not strawberry.UNSET}
