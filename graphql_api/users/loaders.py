"""Batch loaders for users: one query per batch, whatever the number of keys."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.loaders import SessionLoader, in_key_order
from graphql_api.users.models import User


class UserByIdLoader(SessionLoader[int, User | None]):
    async def load_batch(self, session: AsyncSession, keys: Sequence[int]) -> list[User | None]:
        rows = (await session.execute(select(User).where(User.id.in_(keys)))).scalars()
        return in_key_order(keys, rows, lambda user: user.id)
