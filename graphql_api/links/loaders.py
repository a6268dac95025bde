"""Batch loaders for short URLs."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.graphql.loaders import (
    ChildPageLoader,
    CountPerParentLoader,
    SessionLoader,
    grouped_by_key,
    in_key_order,
)
from graphql_api.links.models import ShortUrl, ShortUrlTag, Visit, VisitRecord


class ShortUrlByIdLoader(SessionLoader[int, ShortUrl | None]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[int]) -> list[ShortUrl | None]:
        rows = (await session.execute(select(ShortUrl).where(ShortUrl.id.in_(keys)))).scalars()
        return in_key_order(keys, rows, lambda link: link.id)


class ShortUrlByCodeLoader(SessionLoader[str, ShortUrl | None]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[str]) -> list[ShortUrl | None]:
        rows = (await session.execute(select(ShortUrl).where(ShortUrl.code.in_(keys)))).scalars()
        return in_key_order(keys, rows, lambda link: link.code)


class TagsByShortUrlIdLoader(SessionLoader[int, list[str]]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[int]) -> list[list[str]]:
        rows = await session.execute(
            select(ShortUrlTag.short_url_id, ShortUrlTag.tag)
            .where(ShortUrlTag.short_url_id.in_(keys))
            .order_by(ShortUrlTag.short_url_id, ShortUrlTag.tag)
        )
        return [[tag for _, tag in group] for group in grouped_by_key(keys, rows, lambda r: r[0])]


class VisitsByShortUrlLoader(ChildPageLoader):
    """A page of each link's visits (keys: `ChildPage(short_url_id, VISITS_NEWEST_FIRST, page)`)."""

    record = VisitRecord
    parent = "short_url_id"


class VisitCountByShortUrlLoader(CountPerParentLoader):
    model = Visit
    parent = "short_url_id"
