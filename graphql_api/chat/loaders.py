"""Batch loaders for chat."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.chat.models import ChatMessage, ChatMessageRecord, ChatRoom
from graphql_api.core.graphql.loaders import (
    ChildPageLoader,
    CountPerParentLoader,
    SessionLoader,
    in_key_order,
)


class ChatRoomByIdLoader(SessionLoader[int, ChatRoom | None]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[int]) -> list[ChatRoom | None]:
        rows = await session.scalars(select(ChatRoom).where(ChatRoom.id.in_(keys)))
        return in_key_order(keys, rows, lambda room: room.id)


class MessagesByRoomLoader(ChildPageLoader):
    """A page of each room's history (keys: `ChildPage(room_id, NEWEST_FIRST, page)`)."""

    record = ChatMessageRecord
    parent = "room_id"


class MessageCountByRoomLoader(CountPerParentLoader):
    model = ChatMessage
    parent = "room_id"
