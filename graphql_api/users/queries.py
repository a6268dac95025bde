"""Queries of the users feature."""

from functools import lru_cache
from typing import Any

import strawberry
from sqlalchemy import BindParameter, Select, bindparam, or_, select

from graphql_api.core.db.keyset import SortKey, parse_datetime, parse_int
from graphql_api.core.graphql.connections import PageSource, page_args, read_page, search_term
from graphql_api.core.graphql.context import Context, Info
from graphql_api.core.graphql.permissions import IsAuthenticated
from graphql_api.core.graphql.relay import pk_of
from graphql_api.core.graphql.sources import Pages
from graphql_api.core.validation import like_pattern
from graphql_api.users.loaders import UserByIdLoader
from graphql_api.users.models import User, UserRecord
from graphql_api.users.types import UserConnection, UserType

USERS_ORDER = SortKey("u+", ("created_at", "id"), (parse_datetime, parse_int), False)


async def user_by_pk(info: Info, pk: int) -> User | None:
    """The user with this primary key.

    Disabled accounts are shown like any other, with `isActive: false`, wherever they
    appear (`user`, `node`, `users`, owners and authors): what they made stays visible,
    and every ID a client has seen resolves to the same answer.
    """
    return await info.context.loader(UserByIdLoader).load(pk)


@lru_cache(maxsize=4)
def _users_where(*, admin: bool, searching: bool) -> Select[Any]:
    """The users listed to a viewer; with `searching`, those matching `:pattern`."""
    stmt = select(User.id)
    if searching:
        # Only admins may find people by email: it is not public.
        columns = [User.username, User.email] if admin else [User.username]
        pattern: BindParameter[str] = bindparam("pattern")
        stmt = stmt.where(or_(*(c.ilike(pattern, escape="\\") for c in columns)))
    return stmt


async def all_users(
    context: Context, first: int | None, after: str | None, search: str | None
) -> PageSource:
    """The page of users that `Query.users` asks for: the viewer's, who must be signed in."""
    viewer = await context.require_viewer()
    page = page_args(USERS_ORDER, first, after)
    search = search_term(search)
    return PageSource(
        UserRecord,
        _users_where(admin=viewer.is_admin, searching=bool(search)),
        {"pattern": like_pattern(search)} if search else {},
        USERS_ORDER,
        page,
    )


ALL_USERS = Pages(all_users)


@strawberry.type
class UserQueries:
    @strawberry.field(description="The signed-in user; null without a token.")
    async def me(self, info: Info) -> UserType | None:
        return await info.context.viewer()  # type: ignore[return-value]  # a UserRecord for UserType

    @strawberry.field(description="A user by global ID; null if there is none.")
    async def user(self, info: Info, id: strawberry.ID) -> UserType | None:
        pk = pk_of(id, "User")
        return None if pk is None else await user_by_pk(info, pk)  # type: ignore[return-value]  # a User for UserType

    @strawberry.field(
        description="Users in sign-up order, optionally matching a search of username or "
        "email. Signed-in users only.",
        permission_classes=[IsAuthenticated],
        metadata=ALL_USERS.metadata,
    )
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> UserConnection:
        source = await all_users(info.context, first, after, search)
        connection = await read_page(info.context.reads, UserConnection, source)
        loader = info.context.loader(UserByIdLoader)
        for edge in connection.edges:
            loader.prime(edge.node.id, edge.node)  # type: ignore[arg-type]  # a UserRecord, typed UserType
        return connection
