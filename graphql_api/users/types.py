"""GraphQL types of the users feature."""

from datetime import datetime

import strawberry

from graphql_api.core.graphql.connections import Connection
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.payloads import UserError
from graphql_api.core.graphql.relay import Node, global_id, of_model
from graphql_api.items.resolvers import OWNER_ITEMS
from graphql_api.items.service import ItemOrder
from graphql_api.items.types import ItemConnection
from graphql_api.users.models import Role, User

# strawberry.enum marks Role itself and returns it: annotations name Role (and ItemOrder).
RoleEnum = strawberry.enum(Role, name="Role", description="What a user may do.")


@strawberry.type(name="User", description="A person with an account.")
@of_model(User)
class UserType(Node):
    username: str = strawberry.field(description="Unique name, 3-32 characters.")
    role: Role = strawberry.field(description="USER, or ADMIN who may change anything.")
    is_active: bool = strawberry.field(description="False once an admin disabled the account.")
    created_at: datetime = strawberry.field(description="When the account was created.")

    id: strawberry.ID = global_id("User", description="The user's global ID.")

    @strawberry.field(description="Email address: visible to the user and to admins, else null.")
    async def email(root: strawberry.Parent[User], info: Info) -> str | None:
        return root.email if await info.context.sees_private_fields_of(root.id) else None

    @strawberry.field(
        description="The user's items, newest first unless ordered otherwise.",
        metadata=OWNER_ITEMS.metadata,
    )
    async def items(
        root: strawberry.Parent[User],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        tag: str | None = None,
        search: str | None = None,
        order_by: ItemOrder | None = None,
    ) -> ItemConnection:
        return await OWNER_ITEMS.connection(
            info.context,
            ItemConnection,
            root,
            first=first,
            after=after,
            tag=tag,
            search=search,
            order_by=order_by,
        )


@strawberry.type(description="A page of users.")
class UserConnection(Connection[UserType]):
    pass


@strawberry.type(description="The result of a mutation that changes a user.")
class UserPayload:
    user: UserType | None = strawberry.field(default=None, description="The user as saved.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed, if so."
    )


@strawberry.type(description="The result of signing up, in, or refreshing a session.")
class AuthPayload:
    user: UserType | None = strawberry.field(default=None, description="The signed-in user.")
    access_token: str | None = strawberry.field(
        default=None, description="Send as `Authorization: Bearer <token>`; short-lived."
    )
    refresh_token: str | None = strawberry.field(
        default=None, description="Trade for a new pair with refreshToken; usable once."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why it failed, if so."
    )


@strawberry.type(description="The result of logout.")
class LogoutPayload:
    ok: bool = strawberry.field(default=False, description="True when the session was ended.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why it failed, if so."
    )
