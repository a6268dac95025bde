"""Mutations of the items feature."""

from decimal import Decimal

import strawberry

from graphql_api.core.db.engine import write_transaction
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.payloads import DeletePayload, given_fields, reports_user_errors
from graphql_api.core.graphql.permissions import IsAuthenticated
from graphql_api.core.graphql.relay import input_pk, to_global_id
from graphql_api.items import service
from graphql_api.items.types import ItemPayload
from graphql_api.users.auth import viewer_user

FIELDS = ("title", "description", "price", "tax", "tags")


@strawberry.input(description="A new item.")
class CreateItemInput:
    title: str = strawberry.field(description="1 to 200 characters.")
    price: Decimal = strawberry.field(description="Above 0, at most two decimals.")
    description: str | None = strawberry.field(default=None, description="Free text.")
    tax: Decimal | None = strawberry.field(default=None, description="Tax amount, 0 or more.")
    tags: list[str] | None = strawberry.field(default=None, description="At most 20 tags.")


@strawberry.input(description="Changes to an item; omitted fields stay, null clears.")
class UpdateItemInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the item.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="New title.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="New description; null clears it."
    )
    price: Decimal | None = strawberry.field(default=strawberry.UNSET, description="New price.")
    tax: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="New tax; null clears it."
    )
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces all tags; null or [] clears them."
    )


@strawberry.input(description="The item to delete.")
class DeleteItemInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the item.")


@strawberry.type
class ItemMutations:
    @strawberry.mutation(
        description="Create an item you own.", permission_classes=[IsAuthenticated]
    )
    @reports_user_errors
    async def create_item(self, info: Info, input: CreateItemInput) -> ItemPayload:
        owner = await viewer_user(info)
        async with write_transaction(info.context.sessionmaker) as session:
            item = await service.create_item(
                session, owner=owner, fields=given_fields(input, *FIELDS)
            )
        return ItemPayload(item=item)  # type: ignore[arg-type]  # an Item for ItemType

    @strawberry.mutation(
        description="Change an item: its owner or an admin.", permission_classes=[IsAuthenticated]
    )
    @reports_user_errors
    async def update_item(self, info: Info, input: UpdateItemInput) -> ItemPayload:
        actor = await viewer_user(info)
        async with write_transaction(info.context.sessionmaker) as session:
            item = await service.update_item(
                session,
                actor=actor,
                item_id=input_pk(input.id, "Item"),
                changes=given_fields(input, *FIELDS),
            )
        return ItemPayload(item=item)  # type: ignore[arg-type]  # an Item for ItemType

    @strawberry.mutation(
        description="Delete an item: its owner or an admin.", permission_classes=[IsAuthenticated]
    )
    @reports_user_errors
    async def delete_item(self, info: Info, input: DeleteItemInput) -> DeletePayload:
        actor = await viewer_user(info)
        async with write_transaction(info.context.sessionmaker) as session:
            deleted = await service.delete_item(
                session, actor=actor, item_id=input_pk(input.id, "Item")
            )
        return DeletePayload(deleted_id=to_global_id("Item", deleted))
