"""Errors of a request itself, with the `extensions.code` clients see.

Resolvers raise these; they reach the client as they are (`core.graphql.masking`),
while anything that is not a GraphQLError is masked. Expected failures of a
mutation's input are `core.errors.InvalidInput` and become `userErrors`.
"""

from graphql import GraphQLError


class PublicError(GraphQLError):
    """A request-level error whose message is meant for the client."""

    code = "BAD_USER_INPUT"
    default_message = "Bad input."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message, extensions={"code": self.code})


class BadUserInput(PublicError):
    code = "BAD_USER_INPUT"


class Unauthenticated(PublicError):
    code = "UNAUTHENTICATED"
    default_message = "Authentication required: send a valid access token."


class Forbidden(PublicError):
    code = "FORBIDDEN"
    default_message = "You are not allowed to do this."


class FellBehind(PublicError):
    code = "SLOW_CONSUMER"
    default_message = "Events came faster than this connection took them: subscribe again."


class RateLimited(PublicError):
    """Too many requests of one kind: `extensions.retryAfter` says how many seconds to wait."""

    code = "RATE_LIMITED"
    default_message = "Too many requests."

    def __init__(self, retry_after: int, reason: str | None = None) -> None:
        super().__init__(f"{reason or self.default_message} Try again in {retry_after} seconds.")
        self.retry_after = retry_after
        self.extensions = {**(self.extensions or {}), "retryAfter": retry_after}
