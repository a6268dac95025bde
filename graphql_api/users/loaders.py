"""Batch loaders for users: one query per batch, whatever the number of keys."""

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.loaders import SessionLoader, in_key_order
from graphql_api.users.models import User


class UserByIdLoader(SessionLoader[int, User | None]):
    statement = select(User).where(User.id.in_(bindparam("keys", expanding=True)))

    async def load_batch(self, session: AsyncSession, keys: Sequence[int]) -> list[User | None]:
        rows = (await session.execute(self.statement, {"keys": keys})).scalars()
        return in_key_order(keys, rows, lambda user: user.id)
