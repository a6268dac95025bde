"""Item lists as connections: which page `Query.items` and `User.items` ask for.

Each is declared once (`core.graphql.sources`): the resolvers read it in Python, and the
SQL compiler reads the same declaration.
"""

from typing import Any

from graphql_api.core.graphql.connections import PageSource, page_args, search_term
from graphql_api.core.graphql.context import Context
from graphql_api.core.graphql.errors import BadUserInput
from graphql_api.core.graphql.relay import pk_of
from graphql_api.core.graphql.sources import ChildList, ChildPages, Pages
from graphql_api.items import service
from graphql_api.items.loaders import ItemCountByOwnerLoader, ItemsByOwnerLoader
from graphql_api.items.models import ItemRecord
from graphql_api.items.service import ItemFilter, ItemOrder


def owner_item_list(
    first: int | None,
    after: str | None,
    tag: str | None,
    search: str | None,
    order_by: ItemOrder | None,
) -> ChildList:
    """The page of an owner's items that `User.items`' arguments ask for."""
    key = (order_by or ItemOrder.CREATED_AT_DESC).value
    return ChildList(key, page_args(key, first, after), ItemFilter(tag, search_term(search)))


OWNER_ITEMS = ChildPages(ItemsByOwnerLoader, ItemCountByOwnerLoader, owner_item_list)


async def all_items(
    context: Context,
    first: int | None,
    after: str | None,
    owner_id: str | None,
    tag: str | None,
    search: str | None,
    order_by: ItemOrder | None,
) -> PageSource:
    """The page of everyone's items (or of one owner's) that `Query.items` asks for."""
    owner_pk = None
    if owner_id is not None and (owner_pk := pk_of(owner_id, "User")) is None:
        raise BadUserInput("ownerId must be the ID of a User.")
    key = (order_by or ItemOrder.CREATED_AT_DESC).value
    page = page_args(key, first, after)
    where = ItemFilter(tag=tag, search=search_term(search))
    filters: dict[str, Any] = {**where.parameters()}
    if owner_pk is not None:
        filters["owner_id"] = owner_pk
    stmt = service.items_where(where.shape, by_owner=owner_pk is not None)
    return PageSource(ItemRecord, stmt, filters, key, page)


ALL_ITEMS = Pages(all_items)
