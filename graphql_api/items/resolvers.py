"""Item lists as connections: shared by `Query.items` and `User.items`."""

from graphql_api.core.graphql.connections import (
    child_connection,
    page_args,
    read_page,
    search_term,
)
from graphql_api.core.graphql.context import Info
from graphql_api.items import service
from graphql_api.items.loaders import ItemCountByOwnerLoader, ItemsByOwnerLoader
from graphql_api.items.models import ItemRecord
from graphql_api.items.service import ItemFilter, ItemOrder
from graphql_api.items.types import ItemConnection


async def owner_items(
    info: Info,
    owner_id: int,
    first: int | None,
    after: str | None,
    tag: str | None,
    search: str | None,
    order_by: ItemOrder | None,
) -> ItemConnection:
    """One owner's items, batched with the other owners on the page."""
    order = order_by or ItemOrder.CREATED_AT_DESC
    key = order.value
    page = page_args(key, first, after)
    where = ItemFilter(tag=tag, search=search_term(search))
    return await child_connection(
        info.context,
        ItemConnection,
        ItemsByOwnerLoader,
        ItemCountByOwnerLoader,
        owner_id,
        key,
        page,
        where,
    )


async def all_items(
    info: Info,
    owner_id: int | None,
    first: int | None,
    after: str | None,
    tag: str | None,
    search: str | None,
    order_by: ItemOrder | None,
) -> ItemConnection:
    """Items of everyone (or of one owner), in one query."""
    order = order_by or ItemOrder.CREATED_AT_DESC
    page = page_args(order.value, first, after)
    where = ItemFilter(tag=tag, search=search_term(search))
    return await read_page(
        info.context.reads,
        ItemConnection,
        ItemRecord,
        service.items_where(where.shape, by_owner=owner_id is not None),
        {**where.parameters(), **({"owner_id": owner_id} if owner_id is not None else {})},
        order.value,
        page,
    )
