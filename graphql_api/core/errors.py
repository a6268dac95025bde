"""Errors the domain raises, with the codes clients see.

Services raise `InvalidInput` for expected failures (they become `userErrors` in
mutation payloads). Failures of the request itself are `core.graphql.errors`; anything
else is unexpected and reaches the client masked.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_SHORT = "TOO_SHORT"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    TAKEN = "TAKEN"
    NOT_FOUND = "NOT_FOUND"
    NOT_ALLOWED = "NOT_ALLOWED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    INVALID_TOKEN = "INVALID_TOKEN"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One expected failure: which input field (a path, or None for the whole input), why."""

    field: tuple[str, ...] | None
    code: ErrorCode
    message: str


class InvalidInput(Exception):
    """Raised by services: the input cannot be applied, and nothing is changed.

    `keep_changes` is for the rare failure that must still write, such as revoking a
    token family when a refresh token is reused: the transaction commits, then the
    errors are reported.
    """

    def __init__(self, errors: Sequence[FieldError], *, keep_changes: bool = False) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)
        self.keep_changes = keep_changes

    @classmethod
    def single(cls, field: str | None, code: ErrorCode, message: str) -> "InvalidInput":
        return cls([FieldError((field,) if field else None, code, message)])
