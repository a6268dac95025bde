"""Batch loaders for items: pages of many owners' items in one statement."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.graphql.loaders import (
    ByColumnLoader,
    ChildPageLoader,
    CountPerParentLoader,
    SessionLoader,
    grouped_by_key,
)
from graphql_api.items.models import Item, ItemRecord, ItemTag
from graphql_api.items.service import conditions


class ItemsByOwnerLoader(ChildPageLoader):
    """A page of each owner's items (keys: `ChildPage(owner_id, order.value, page, ItemFilter)`)."""

    record = ItemRecord
    parent = "owner_id"
    conditions = staticmethod(conditions)


class ItemCountByOwnerLoader(CountPerParentLoader):
    """How many items each owner has (keys: `Children(owner_id, ItemFilter)`)."""

    model = Item
    parent = "owner_id"
    conditions = staticmethod(conditions)


class TagsByItemIdLoader(SessionLoader[int, list[str]]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[int]) -> list[list[str]]:
        rows = await session.execute(
            select(ItemTag.item_id, ItemTag.tag)
            .where(ItemTag.item_id.in_(keys))
            .order_by(ItemTag.item_id, ItemTag.tag)
        )
        grouped = grouped_by_key(keys, rows, lambda row: row[0])
        return [[tag for _, tag in group] for group in grouped]


# Loads ItemRecords, typed as the Item each reads as (core.db.records).
class ItemByIdLoader(ByColumnLoader[int, Item | None]):
    record = ItemRecord
    column = "id"
