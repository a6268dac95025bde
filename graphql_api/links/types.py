"""GraphQL types of the links feature."""

from dataclasses import fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.core.clock import utcnow
from graphql_api.core.db.keyset import DEFAULT_PAGE_SIZE, SortKey, parse_datetime, parse_int
from graphql_api.core.graphql.connections import Connection, child_connection, page_args
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.cost import costs
from graphql_api.core.graphql.errors import BadUserInput
from graphql_api.core.graphql.payloads import UserError
from graphql_api.core.graphql.relay import Node, global_id, of_model
from graphql_api.core.validation import utc_moment
from graphql_api.links.loaders import (
    TagsByShortUrlIdLoader,
    VisitCountByShortUrlLoader,
    VisitsByShortUrlLoader,
)
from graphql_api.links.models import ShortUrl, Visit
from graphql_api.links.redirect import LinkRuntime
from graphql_api.links.stats import MAX_BUCKETS, Interval, visit_stats
from graphql_api.users.loaders import UserByIdLoader

if TYPE_CHECKING:
    from graphql_api.users.types import UserType

UserRef = Annotated["UserType", strawberry.lazy("graphql_api.users.types")]
DEFAULT_STATS_SPAN = timedelta(days=30)
VISITS_NEWEST_FIRST = SortKey("v-", ("visited_at", "id"), (parse_datetime, parse_int), True)


async def may_see_analytics(info: Info, link: ShortUrl) -> bool:
    return await info.context.sees_private_fields_of(link.owner_id)


@strawberry.type(name="Visit", description="One redirect served by a short URL.")
@of_model(Visit)
class VisitType(Node):
    visited_at: datetime = strawberry.field(description="When the redirect was served.")
    referrer: str | None = strawberry.field(description="The Referer header, if any.")
    browser: str | None = strawberry.field(description="Browser family, e.g. Chrome.")
    os: str | None = strawberry.field(description="Operating system family, e.g. iOS.")
    device: str | None = strawberry.field(description="desktop, mobile, tablet, bot or other.")
    is_bot: bool = strawberry.field(
        description="A crawler, unfurler or script: recorded, not counted in visitCount."
    )

    id: strawberry.ID = global_id("Visit", description="The visit's global ID.")


@strawberry.type(description="A page of visits.")
class VisitConnection(Connection[VisitType]):
    pass


# strawberry.enum marks Interval itself and returns it: annotations name Interval.
VisitInterval = strawberry.enum(
    Interval, name="VisitInterval", description="The width of a bucket of visit statistics."
)


@strawberry.type(description="Visits in one interval of time.")
class VisitBucket:
    start: datetime = strawberry.field(description="Start of the interval (UTC).")
    visits: int = strawberry.field(description="All visits, bots included.")
    bots: int = strawberry.field(description="Visits by bots.")


@strawberry.type(description="How often one value occurred.")
class VisitCount:
    value: str = strawberry.field(description="The referrer, browser, system or device kind.")
    visits: int = strawberry.field(description="Visits with this value.")


@strawberry.type(description="Visit statistics of a short URL over a time range.")
class VisitStats:
    since: datetime = strawberry.field(description="Start of the range (bucket-aligned, UTC).")
    until: datetime = strawberry.field(description="End of the range (exclusive).")
    interval: Interval = strawberry.field(description="Width of each bucket.")
    total: int = strawberry.field(description="Visits in the range, bots included.")
    bots: int = strawberry.field(description="Visits by bots in the range.")
    buckets: list[VisitBucket] = strawberry.field(
        description="Every interval of the range in order, empty ones included."
    )
    referrers: list[VisitCount] = strawberry.field(description="The 10 most frequent referrers.")
    browsers: list[VisitCount] = strawberry.field(description="The 10 most frequent browsers.")
    operating_systems: list[VisitCount] = strawberry.field(
        description="The 10 most frequent operating systems."
    )
    devices: list[VisitCount] = strawberry.field(
        description="Visits per device kind: desktop, mobile, tablet, bot, other."
    )


@strawberry.type(name="ShortUrl", description="A short link that redirects to a target URL.")
@of_model(ShortUrl)
class ShortUrlType(Node):
    code: str = strawberry.field(description="The path of the short link, e.g. `k7Xq2mP`.")
    target_url: str = strawberry.field(description="Where the link redirects (punycode host).")
    title: str | None = strawberry.field(description="A title for people, or null.")
    is_active: bool = strawberry.field(
        description="False when disabled by its owner (the link then answers 410)."
    )
    redirect_status: int = strawberry.field(description="301, 302 (default), 307 or 308.")
    created_at: datetime = strawberry.field(description="When the link was created.")
    valid_since: datetime | None = strawberry.field(
        description="Before this time the link answers 410; null: always valid."
    )
    expires_at: datetime | None = strawberry.field(
        description="From this time the link answers 410; null: never expires."
    )
    max_visits: int | None = strawberry.field(
        description="After this many human visits the link answers 410; null: no limit."
    )
    visit_count: int = strawberry.field(
        description="Human visits so far (bots are recorded but not counted). Written in "
        "batches: it may trail the last redirects by a fraction of a second."
    )

    id: strawberry.ID = global_id("ShortUrl", description="The short URL's global ID.")

    @strawberry.field(description="The full short link to share.")
    def short_url(root: strawberry.Parent[ShortUrl], info: Info) -> str:
        return info.context.state.runtime(LinkRuntime).short_url(root.code)

    @strawberry.field(description="Normalised tags, sorted.")
    async def tags(root: strawberry.Parent[ShortUrl], info: Info) -> list[str]:
        return await info.context.loader(TagsByShortUrlIdLoader).load(root.id)

    @strawberry.field(description="The user who created the link.")
    async def owner(root: strawberry.Parent[ShortUrl], info: Info) -> UserRef:
        return await info.context.loader(UserByIdLoader).load(root.owner_id)  # type: ignore[return-value]  # a User for UserType

    @strawberry.field(
        description="An SVG QR code of the short link (also at /{code}/qr.svg). Drawing "
        f"one costs about what reading a page does: it counts as {DEFAULT_PAGE_SIZE} "
        "fields in the query cost limit.",
        metadata=costs(DEFAULT_PAGE_SIZE),
    )
    async def qr_code_svg(root: strawberry.Parent[ShortUrl], info: Info) -> str:
        return await info.context.state.runtime(LinkRuntime).qr_code(root.code)

    @strawberry.field(
        description="Visit counts per hour or day, and the top referrers, browsers, systems "
        "and devices. The owner and admins only; null for anyone else. The range defaults "
        "to the last 30 days."
    )
    async def visit_stats(
        root: strawberry.Parent[ShortUrl],
        info: Info,
        since: Annotated[
            datetime | None,
            strawberry.argument(
                name="from", description="Start of the range (default: 30 days before `to`)."
            ),
        ] = None,
        until: Annotated[
            datetime | None,
            strawberry.argument(
                name="to", description="End of the range, exclusive (default: now)."
            ),
        ] = None,
        interval: Annotated[
            Interval,
            strawberry.argument(description="Bucket width."),
        ] = Interval.DAY,
    ) -> VisitStats | None:
        if not await may_see_analytics(info, root):
            return None
        since, until = _stats_range(since, until, interval)
        async with info.context.reads.session() as session:
            stats = await visit_stats(
                session, link_id=root.id, since=since, until=until, interval=interval
            )
        return VisitStats(**{f.name: getattr(stats, f.name) for f in fields(stats)})

    @strawberry.field(
        description="Recorded visits, newest first. The owner and admins only; "
        "null for anyone else."
    )
    async def visits(
        root: strawberry.Parent[ShortUrl],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> VisitConnection | None:
        if not await may_see_analytics(info, root):
            return None
        return await child_connection(
            info.context,
            VisitConnection,
            VisitsByShortUrlLoader,
            VisitCountByShortUrlLoader,
            root.id,
            VISITS_NEWEST_FIRST,
            page_args(VISITS_NEWEST_FIRST, first, after),
        )


def _stats_range(
    since: datetime | None, until: datetime | None, interval: Interval
) -> tuple[datetime, datetime]:
    until = utcnow() if until is None else utc_moment(until)
    since = (until and until - DEFAULT_STATS_SPAN) if since is None else utc_moment(since)
    if since is None or until is None:
        raise BadUserInput("from and to need a time zone and a year from 1970 to 8999.")
    if since >= until:
        raise BadUserInput("from must be earlier than to.")
    if (until - since) / interval.value > MAX_BUCKETS[interval]:
        raise BadUserInput(
            f"At most {MAX_BUCKETS[interval]} buckets of {interval.name}: "
            "narrow the range or widen the interval."
        )
    return since, until


@strawberry.type(description="A page of short URLs.")
class ShortUrlConnection(Connection[ShortUrlType]):
    pass


@strawberry.type(description="The result of a mutation that changes a short URL.")
class ShortUrlPayload:
    short_url: ShortUrlType | None = strawberry.field(
        default=None, description="The short URL as saved."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed, if so."
    )


@strawberry.type(description="The result of importShortUrls.")
class ImportShortUrlsPayload:
    short_urls: list[ShortUrlType] = strawberry.field(
        default_factory=list, description="The short URLs created, in file order."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="One per bad row (those rows were not imported)."
    )
