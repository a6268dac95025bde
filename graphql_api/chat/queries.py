"""Queries of the chat feature (signed-in users only)."""

import strawberry
from sqlalchemy import select

from graphql_api.chat import service
from graphql_api.chat.loaders import ChatRoomByIdLoader
from graphql_api.chat.models import ChatRoom
from graphql_api.chat.types import ChatRoomConnection, ChatRoomType
from graphql_api.core.db.keyset import SortKey, parse_int, parse_str
from graphql_api.core.graphql.connections import page_args, paginate
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.permissions import IsAuthenticated

BY_NAME = SortKey("r+", ("name", "id"), (parse_str, parse_int), False)


async def chat_room_by_pk(info: Info, pk: int) -> ChatRoom | None:
    """The room with this primary key for a signed-in viewer, else None."""
    if await info.context.viewer() is None:
        return None
    return await info.context.loader(ChatRoomByIdLoader).load(pk)


@strawberry.type
class ChatQueries:
    @strawberry.field(description="Chat rooms by name.", permission_classes=[IsAuthenticated])
    async def chat_rooms(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ChatRoomConnection:
        return await paginate(
            info.context.reads,
            ChatRoomConnection,
            select(ChatRoom),
            ChatRoom,
            BY_NAME,
            page_args(BY_NAME, first, after),
        )

    @strawberry.field(
        description="A chat room by name; null if there is none.",
        permission_classes=[IsAuthenticated],
    )
    async def chat_room(self, info: Info, name: str) -> ChatRoomType | None:
        async with info.context.reads.session() as session:
            return await service.get_room(session, name=name)  # type: ignore[return-value]  # a ChatRoom for ChatRoomType
