"""Queries of the links feature."""

import strawberry

from graphql_api.core.graphql.connections import page_args, paginate, search_term
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.permissions import IsAuthenticated
from graphql_api.links import service
from graphql_api.links.loaders import ShortUrlByCodeLoader, ShortUrlByIdLoader
from graphql_api.links.models import ShortUrl
from graphql_api.links.service import NEWEST_FIRST, LinkFilter
from graphql_api.links.types import ShortUrlConnection, ShortUrlType
from graphql_api.users.auth import viewer_user


async def short_url_by_pk(info: Info, pk: int) -> ShortUrl | None:
    """The short URL with this primary key, or None."""
    return await info.context.loader(ShortUrlByIdLoader).load(pk)


@strawberry.type
class LinkQueries:
    @strawberry.field(description="A short URL by its code; null if there is none.")
    async def short_url(self, info: Info, code: str) -> ShortUrlType | None:
        return await info.context.loader(ShortUrlByCodeLoader).load(code)  # type: ignore[return-value]  # a ShortUrl for ShortUrlType

    @strawberry.field(
        description="Your short URLs, newest first; `active` keeps only those that redirect "
        "now (true) or only those that answer 410 (false).",
        permission_classes=[IsAuthenticated],
    )
    async def my_short_urls(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        tag: str | None = None,
        search: str | None = None,
        active: bool | None = None,
    ) -> ShortUrlConnection:
        viewer = await viewer_user(info)
        stmt = service.owned_query(
            viewer.id, LinkFilter(tag=tag, search=search_term(search), active=active)
        )
        return await paginate(
            info.context.reads,
            ShortUrlConnection,
            stmt,
            ShortUrl,
            NEWEST_FIRST,
            page_args(NEWEST_FIRST, first, after),
        )
