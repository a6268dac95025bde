"""Bulk creation of short URLs from a CSV file: every row checked, good rows kept."""

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.errors import ErrorCode, FieldError, InvalidInput
from graphql_api.links import service
from graphql_api.links.models import ShortUrl
from graphql_api.links.service import LinkRules
from graphql_api.users.models import User

COLUMNS = ("url", "code", "title", "tags", "expiresAt")
MAX_BYTES = 5 * 1024 * 1024
# Every row is its own savepoint inside one write transaction: on SQLite the import holds
# the write lock throughout, so a file is kept to what takes a few seconds.
MAX_ROWS = 1_000
TAG_SEPARATOR = "|"


def _file_error(message: str) -> InvalidInput:
    return InvalidInput.single("file", ErrorCode.INVALID, message)


def parse_csv(data: bytes, *, max_rows: int | None = MAX_ROWS) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; a file that cannot be read at all is one userError.

    Uploads are bounded; the CLI reads files of any size (`max_rows=None`).
    """
    if max_rows is not None and len(data) > MAX_BYTES:
        raise InvalidInput.single(
            "file", ErrorCode.TOO_LONG, f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error("The file is not UTF-8 text.") from None
    if "\x00" in text:
        raise _file_error("The file is not a CSV text file.")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = reader.fieldnames or []
        if "url" not in header:
            raise _file_error("The first line must name the columns, among them `url`.")
        if unknown := [name for name in header if name not in COLUMNS]:
            raise _file_error(
                f"Unknown columns: {', '.join(unknown)}. Known: {', '.join(COLUMNS)}."
            )
        rows: list[tuple[int, dict[str, str]]] = []
        for row in reader:
            if len(rows) == max_rows:
                raise InvalidInput.single(
                    "file", ErrorCode.TOO_MANY, f"At most {max_rows} rows per file."
                )
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise _file_error(f"Malformed CSV: {exc}.") from None
    return rows


def _fields(row: dict[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    fields: dict[str, Any] = {"url": row.get("url") or ""}
    for name, key in (("code", "code"), ("title", "title")):
        if value := (row.get(key) or "").strip():
            fields[name] = value
    if tags := (row.get("tags") or "").strip():
        fields["tags"] = [t for t in tags.split(TAG_SEPARATOR) if t.strip()]
    if expires := (row.get("expiresAt") or "").strip():
        try:
            fields["expires_at"] = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError:
            errors.append(
                FieldError(
                    ("expiresAt",),
                    ErrorCode.INVALID,
                    "expiresAt must be an ISO 8601 date and time.",
                )
            )
    if None in row:  # more cells than columns
        errors.append(FieldError(None, ErrorCode.INVALID, "The row has more cells than columns."))
    return fields


async def import_rows(
    session: AsyncSession,
    *,
    owner: User,
    rows: list[tuple[int, dict[str, str]]],
    rules: LinkRules,
    progress: Callable[[], None] | None = None,
) -> tuple[list[ShortUrl], list[FieldError]]:
    """Create a short URL per good row (from `parse_csv`) and an error per bad one.

    An error's path is ["file", line number, field].
    """
    created: list[ShortUrl] = []
    errors: list[FieldError] = []
    for line, row in rows:
        row_errors: list[FieldError] = []
        fields = _fields(row, row_errors)
        try:
            if row_errors:
                raise InvalidInput(row_errors)
            async with session.begin_nested():  # a bad row undoes only itself
                created.append(
                    await service.shorten(session, owner=owner, fields=fields, rules=rules)
                )
        except InvalidInput as exc:
            errors += [
                FieldError(
                    ("file", str(line), *(e.field or ())), e.code, f"Line {line}: {e.message}"
                )
                for e in exc.errors
            ]
        if progress is not None:
            progress()
    return created, errors
