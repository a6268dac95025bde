"""Mutations of the links feature."""

from datetime import datetime

import strawberry
from strawberry.file_uploads import Upload

from graphql_api.core.db.engine import write_transaction
from graphql_api.core.errors import ErrorCode, InvalidInput
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.expensive import EXPENSIVE
from graphql_api.core.graphql.payloads import (
    DeletePayload,
    given_fields,
    reports_user_errors,
    user_error,
)
from graphql_api.core.graphql.permissions import IsAuthenticated, enforce
from graphql_api.core.graphql.relay import to_global_id
from graphql_api.core.ratelimit import Limit
from graphql_api.links import service
from graphql_api.links.importer import MAX_BYTES, import_rows, parse_csv
from graphql_api.links.models import ShortUrl
from graphql_api.links.redirect import LinkRuntime
from graphql_api.links.types import ImportShortUrlsPayload, ShortUrlPayload
from graphql_api.users.auth import viewer_user

SETTINGS = ("url", "title", "tags", "valid_since", "expires_at", "max_visits", "redirect_status")
TOO_FAST = "You are creating short links too fast."


@strawberry.input(description="A URL to shorten, with optional settings.")
class ShortenUrlInput:
    url: str = strawberry.field(description="http(s) URL, at most 2048 bytes.")
    code: str | None = strawberry.field(
        default=None, description="Custom code: 3-64 of A-Z a-z 0-9 _ -. Random when omitted."
    )
    title: str | None = strawberry.field(default=None, description="A title for people.")
    tags: list[str] | None = strawberry.field(default=None, description="At most 20 tags.")
    valid_since: datetime | None = strawberry.field(
        default=None, description="Before this time the link answers 410."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="From this time the link answers 410."
    )
    max_visits: int | None = strawberry.field(
        default=None, description="Human visits allowed; then the link answers 410."
    )
    redirect_status: int | None = strawberry.field(
        default=None, description="301, 302 (default), 307 or 308."
    )


@strawberry.input(description="Changes to a short URL; omitted fields stay, null clears.")
class UpdateShortUrlInput:
    code: str = strawberry.field(description="The code of the short URL to change.")
    url: str | None = strawberry.field(default=strawberry.UNSET, description="New target.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="New title.")
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces all tags."
    )
    valid_since: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="New start of validity; null: always valid."
    )
    expires_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="New expiry; null: never expires."
    )
    max_visits: int | None = strawberry.field(
        default=strawberry.UNSET, description="New visit cap; null: no limit."
    )
    redirect_status: int | None = strawberry.field(
        default=strawberry.UNSET, description="301, 302, 307 or 308; null: 302."
    )


@strawberry.input(description="Enable or disable a short URL.")
class SetShortUrlActiveInput:
    code: str = strawberry.field(description="The code of the short URL.")
    active: bool = strawberry.field(description="False makes the link answer 410.")


@strawberry.input(description="The short URL to delete, with its visits.")
class DeleteShortUrlInput:
    code: str = strawberry.field(description="The code of the short URL.")


@strawberry.input(description="A CSV file of links to create.")
class ImportShortUrlsInput:
    file: Upload = strawberry.field(
        description="CSV, UTF-8, first line naming the columns: url (required), code, title, "
        "tags (separated by |) and expiresAt (ISO 8601). At most 1,000 rows and 5 MB. Send "
        "it as a GraphQL multipart request with a `GraphQL-Require-Preflight: 1` header."
    )


async def _changed(info: Info, link: ShortUrl) -> ShortUrlPayload:
    """The payload, after dropping the redirects' cached copies of the link."""
    await info.context.state.runtime(LinkRuntime).changed(link.code)
    return ShortUrlPayload(short_url=link)  # type: ignore[arg-type]  # a ShortUrl for ShortUrlType


@strawberry.type
class LinkMutations:
    @strawberry.mutation(
        description="Create a short URL. Each user may create a limited number of links per "
        "period: over it, a RATE_LIMITED error says in `extensions.retryAfter` how many "
        "seconds to wait.",
        permission_classes=[IsAuthenticated],
    )
    @reports_user_errors
    async def shorten_url(self, info: Info, input: ShortenUrlInput) -> ShortUrlPayload:
        owner = await viewer_user(info)
        await enforce(info.context, Limit.SHORTEN_PER_USER, str(owner.id), reason=TOO_FAST)
        fields = given_fields(input, "code", *SETTINGS)
        async with write_transaction(info.context.sessionmaker) as session:
            link = await service.shorten(
                session,
                owner=owner,
                fields={k: v for k, v in fields.items() if v is not None},
                rules=info.context.state.runtime(LinkRuntime).rules,
            )
        return await _changed(info, link)

    @strawberry.mutation(
        description="Change a short URL: its owner or an admin.",
        permission_classes=[IsAuthenticated],
    )
    @reports_user_errors
    async def update_short_url(self, info: Info, input: UpdateShortUrlInput) -> ShortUrlPayload:
        actor = await viewer_user(info)
        async with write_transaction(info.context.sessionmaker) as session:
            link = await service.update(
                session,
                actor=actor,
                code=input.code,
                fields=given_fields(input, *SETTINGS),
                rules=info.context.state.runtime(LinkRuntime).rules,
            )
        return await _changed(info, link)

    @strawberry.mutation(
        description="Enable or disable a short URL: its owner or an admin.",
        permission_classes=[IsAuthenticated],
    )
    @reports_user_errors
    async def set_short_url_active(
        self, info: Info, input: SetShortUrlActiveInput
    ) -> ShortUrlPayload:
        actor = await viewer_user(info)
        async with write_transaction(info.context.sessionmaker) as session:
            link = await service.set_active(
                session, actor=actor, code=input.code, active=input.active
            )
        return await _changed(info, link)

    @strawberry.mutation(
        description="Delete a short URL and its visits: its owner or an admin.",
        permission_classes=[IsAuthenticated],
    )
    @reports_user_errors
    async def delete_short_url(self, info: Info, input: DeleteShortUrlInput) -> DeletePayload:
        actor = await viewer_user(info)
        async with write_transaction(info.context.sessionmaker) as session:
            link = await service.remove(session, actor=actor, code=input.code)
        await info.context.state.runtime(LinkRuntime).changed(link.code)
        return DeletePayload(deleted_id=to_global_id("ShortUrl", link.id))

    @strawberry.mutation(
        description="Create short URLs from a CSV file. Every row is checked: good rows are "
        "created together, each bad row gives a userError whose field is "
        '["file", line number, column]. Each row counts against the same limit as '
        "shortenUrl: a file that does not fit gets a RATE_LIMITED error and nothing is "
        "created. Expensive: one operation holds at most one expensive mutation by default.",
        permission_classes=[IsAuthenticated],
        metadata=EXPENSIVE,
    )
    @reports_user_errors
    async def import_short_urls(
        self, info: Info, input: ImportShortUrlsInput
    ) -> ImportShortUrlsPayload:
        owner = await viewer_user(info)
        if not hasattr(input.file, "read"):
            raise InvalidInput.single(
                "file", ErrorCode.INVALID, "Send the file as a GraphQL multipart upload."
            )
        rows = parse_csv(await input.file.read(MAX_BYTES + 1))
        limits = info.context.state.rate_limits
        if len(rows) > (capacity := limits.capacity(Limit.SHORTEN_PER_USER)):
            raise InvalidInput.single(
                "file",
                ErrorCode.TOO_MANY,
                f"The file has {len(rows)} rows; at most {capacity} links can be created "
                "at a time: split it.",
            )
        if rows:
            await enforce(
                info.context, Limit.SHORTEN_PER_USER, str(owner.id), reason=TOO_FAST, cost=len(rows)
            )
        async with write_transaction(info.context.sessionmaker) as session:
            created, errors = await import_rows(
                session, owner=owner, rows=rows, rules=info.context.state.runtime(LinkRuntime).rules
            )
        for link in created:
            await info.context.state.runtime(LinkRuntime).changed(link.code)
        return ImportShortUrlsPayload(
            short_urls=created,  # type: ignore[arg-type]  # ShortUrls for ShortUrlType
            user_errors=[user_error(e) for e in errors],
        )
