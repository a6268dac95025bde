"""Checks shared by the features' services; each failure is a FieldError, never an exception."""

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from graphql_api.core.errors import ErrorCode, FieldError, InvalidInput

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
_TAG_SEPARATORS = re.compile(r"[\s_]+")
_TAG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")


def text_length(
    field: str, value: str, *, min_length: int, max_length: int, multiline: bool = False
) -> FieldError | None:
    """None when `value` has an allowed length and no control characters, else the error."""
    allowed = "\t\n\r" if multiline else ""
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        return FieldError((field,), ErrorCode.INVALID, f"{field} has control characters.")
    if len(value) < min_length:
        if min_length == 1:
            return FieldError((field,), ErrorCode.REQUIRED, f"{field} must not be empty.")
        return FieldError(
            (field,), ErrorCode.TOO_SHORT, f"{field} must be at least {min_length} characters."
        )
    if len(value) > max_length:
        return FieldError(
            (field,), ErrorCode.TOO_LONG, f"{field} must be at most {max_length} characters."
        )
    return None


def clean_text(value: str) -> str:
    """Unicode-normalised text without control characters at the ends."""
    return unicodedata.normalize("NFC", value).strip()


def normalise_tag(raw: str) -> str:
    """A tag as stored: lower case, runs of spaces and underscores made one hyphen."""
    return _TAG_SEPARATORS.sub("-", clean_text(raw).lower()).strip("-")


def normalise_tags(tags: Iterable[str], errors: list[FieldError], field: str = "tags") -> list[str]:
    """Lower-case, hyphenated, de-duplicated tags in their first order; errors appended."""
    result: list[str] = []
    for index, raw in enumerate(tags):
        tag = normalise_tag(raw)
        path = (field, str(index))
        if not tag:
            errors.append(FieldError(path, ErrorCode.REQUIRED, "A tag must not be empty."))
        elif len(tag) > MAX_TAG_LENGTH:
            errors.append(
                FieldError(
                    path, ErrorCode.TOO_LONG, f"A tag has at most {MAX_TAG_LENGTH} characters."
                )
            )
        elif not _TAG_PATTERN.fullmatch(tag):
            errors.append(
                FieldError(
                    path, ErrorCode.INVALID, "A tag has only letters a-z, digits and hyphens."
                )
            )
        elif tag not in result:
            result.append(tag)
    if len(result) > MAX_TAGS:
        errors.append(FieldError((field,), ErrorCode.TOO_MANY, f"At most {MAX_TAGS} tags."))
    return result


# Moments a client may give: wide enough for any real use, far from the calendar's ends
# (where converting between time zones overflows).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def utc_moment(value: datetime) -> datetime | None:
    """`value` in UTC, or None when it has no time zone or lies outside 1970-9000."""
    if value.tzinfo is None or not EARLIEST.year <= value.year < LATEST.year:
        return None
    return value.astimezone(UTC)


MAX_SEARCH_LENGTH = 200


def like_pattern(search: str) -> str:
    """A LIKE pattern matching `search` anywhere, its wildcards taken literally (escape '\\')."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


T = TypeVar("T")


def owned_or_admin(
    obj: T | None, *, actor: Any, owner_id: int | None, field: str, missing: str, refused: str
) -> T:
    """`obj` if it exists and `actor` owns it or is an admin; else NOT_FOUND or NOT_ALLOWED."""
    if obj is None:
        raise InvalidInput.single(field, ErrorCode.NOT_FOUND, missing)
    if not (actor.is_admin or owner_id == actor.id):
        raise InvalidInput.single(field, ErrorCode.NOT_ALLOWED, refused)
    return obj
