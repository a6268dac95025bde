"""Batch loaders for chat."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.chat.models import ChatRoom
from graphql_api.core.graphql.loaders import SessionLoader, in_key_order


class ChatRoomByIdLoader(SessionLoader[int, ChatRoom | None]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[int]) -> list[ChatRoom | None]:
        rows = await session.scalars(select(ChatRoom).where(ChatRoom.id.in_(keys)))
        return in_key_order(keys, rows, lambda room: room.id)
