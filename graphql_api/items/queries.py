"""Queries of the items feature."""

import strawberry

from graphql_api.core.graphql.connections import read_page
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.relay import pk_of
from graphql_api.items.loaders import ItemByIdLoader
from graphql_api.items.models import Item
from graphql_api.items.resolvers import ALL_ITEMS, all_items
from graphql_api.items.service import ItemOrder
from graphql_api.items.types import ItemConnection, ItemType


async def item_by_pk(info: Info, pk: int) -> Item | None:
    """The item with this primary key, or None."""
    return await info.context.loader(ItemByIdLoader).load(pk)


@strawberry.type
class ItemQueries:
    @strawberry.field(description="An item by global ID; null if there is none.")
    async def item(self, info: Info, id: strawberry.ID) -> ItemType | None:
        pk = pk_of(id, "Item")
        return None if pk is None else await item_by_pk(info, pk)  # type: ignore[return-value]  # an Item for ItemType

    @strawberry.field(
        description="Items of all users, or of one, filtered by tag or text; newest first "
        "unless ordered otherwise.",
        metadata=ALL_ITEMS.metadata,
    )
    async def items(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        owner_id: strawberry.ID | None = None,
        tag: str | None = None,
        search: str | None = None,
        order_by: ItemOrder | None = None,
    ) -> ItemConnection:
        source = await all_items(info.context, first, after, owner_id, tag, search, order_by)
        return await read_page(info.context.reads, ItemConnection, source)
