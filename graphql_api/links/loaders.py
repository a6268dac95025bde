"""Batch loaders for short URLs."""

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.graphql.loaders import (
    ChildPageLoader,
    CountPerParentLoader,
    SessionLoader,
    grouped_by_key,
    in_key_order,
)
from graphql_api.links.models import ShortUrl, ShortUrlTag, Visit, VisitRecord

# Built once, each with an expanding parameter: a statement built per batch with its keys in
# it would leave a reference cycle behind (SQLAlchemy's bound parameter) for the collector.
BY_ID = select(ShortUrl).where(ShortUrl.id.in_(bindparam("keys")))
BY_CODE = select(ShortUrl).where(ShortUrl.code.in_(bindparam("keys")))
TAGS = (
    select(ShortUrlTag.short_url_id, ShortUrlTag.tag)
    .where(ShortUrlTag.short_url_id.in_(bindparam("keys")))
    .order_by(ShortUrlTag.short_url_id, ShortUrlTag.tag)
)


class ShortUrlByIdLoader(SessionLoader[int, ShortUrl | None]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[int]) -> list[ShortUrl | None]:
        rows = await session.scalars(BY_ID, {"keys": keys})
        return in_key_order(keys, rows, lambda link: link.id)


class ShortUrlByCodeLoader(SessionLoader[str, ShortUrl | None]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[str]) -> list[ShortUrl | None]:
        rows = await session.scalars(BY_CODE, {"keys": keys})
        return in_key_order(keys, rows, lambda link: link.code)


class TagsByShortUrlIdLoader(SessionLoader[int, list[str]]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[int]) -> list[list[str]]:
        rows = await session.execute(TAGS, {"keys": keys})
        return [[tag for _, tag in group] for group in grouped_by_key(keys, rows, lambda r: r[0])]


class VisitsByShortUrlLoader(ChildPageLoader):
    """A page of each link's visits (keys: `ChildPage(short_url_id, VISITS_NEWEST_FIRST, page)`)."""

    record = VisitRecord
    parent = "short_url_id"


class VisitCountByShortUrlLoader(CountPerParentLoader):
    model = Visit
    parent = "short_url_id"
