"""GraphQL types of the items feature."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.core.graphql.connections import Connection
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.payloads import UserError
from graphql_api.core.graphql.relay import Node, global_id, of_model
from graphql_api.core.graphql.sources import to_one
from graphql_api.items.loaders import TagsByItemIdLoader
from graphql_api.items.models import Item
from graphql_api.items.service import ItemOrder
from graphql_api.users.loaders import UserByIdLoader

if TYPE_CHECKING:
    from graphql_api.users.types import UserType

# Lazy: User.items refers back to this module.
UserRef = Annotated["UserType", strawberry.lazy("graphql_api.users.types")]

# strawberry.enum marks ItemOrder itself and returns it: annotations name ItemOrder.
ItemOrderEnum = strawberry.enum(
    ItemOrder,
    name="ItemOrder",
    description="How an item list is sorted; ties are broken by ID, so pages never overlap.",
)


@strawberry.type(name="Item", description="Something a user owns, with a price.")
@of_model(Item)
class ItemType(Node):
    title: str = strawberry.field(description="1 to 200 characters.")
    description: str | None = strawberry.field(description="Free text, may be null.")
    price: Decimal = strawberry.field(description="Price before tax, above 0, two decimals.")
    tax: Decimal | None = strawberry.field(description="Tax amount added to the price, or null.")
    price_with_tax: Decimal = strawberry.field(description="price + tax.")
    created_at: datetime = strawberry.field(description="When the item was created.")
    updated_at: datetime = strawberry.field(description="When the item last changed.")

    id: strawberry.ID = global_id("Item", description="The item's global ID.")

    @strawberry.field(description="Normalised tags (lower case, hyphenated), sorted.")
    async def tags(root: strawberry.Parent[Item], info: Info) -> list[str]:
        return await info.context.loader(TagsByItemIdLoader).load(root.id)

    owner: UserRef = to_one(UserByIdLoader, "owner_id", description="The user who owns the item.")


@strawberry.type(description="A page of items.")
class ItemConnection(Connection[ItemType]):
    pass


@strawberry.type(description="The result of a mutation that changes an item.")
class ItemPayload:
    item: ItemType | None = strawberry.field(default=None, description="The item as saved.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed, if so."
    )
