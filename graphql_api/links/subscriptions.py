"""Live visits of a short URL, for its owner."""

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from graphql_api.core.broker import SlowConsumer
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.errors import BadUserInput, FellBehind, Forbidden
from graphql_api.core.graphql.permissions import IsAuthenticated
from graphql_api.core.metrics import open_subscription
from graphql_api.links.loaders import ShortUrlByCodeLoader
from graphql_api.links.models import ShortUrl, Visit
from graphql_api.links.recorder import visits_channel
from graphql_api.links.types import VisitType, may_see_analytics
from graphql_api.users.revocation import session_events


@strawberry.type
class LinkSubscriptions:
    @strawberry.subscription(
        description="Each visit of a short URL as it is recorded (within a fraction of a "
        "second). Its owner and admins only.",
        permission_classes=[IsAuthenticated],
    )
    async def short_url_visits(self, info: Info, code: str) -> AsyncGenerator[VisitType, None]:
        link: ShortUrl | None = await info.context.loader(ShortUrlByCodeLoader).load(code)
        if link is None:
            raise BadUserInput("No short URL has this code.")
        if not await may_see_analytics(info, link):
            raise Forbidden("Only the link's owner or an admin may watch its visits.")
        channel = visits_channel(link.id)
        async with (
            open_subscription("shortUrlVisits"),
            session_events(info, channel, queue_size=4096) as events,
        ):
            try:
                async for event in events:
                    info.context.forget()  # a connection lives long: nothing cached goes stale
                    yield Visit(  # type: ignore[misc]  # a Visit for VisitType
                        **{**event, "visited_at": datetime.fromisoformat(event["visited_at"])}
                    )
            except SlowConsumer:
                raise FellBehind() from None
