"""Batch loaders for users: one query per batch, whatever the number of keys."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.core.loaders import RecordLoader, in_key_order
from graphql_api.users.models import User, UserRecord


class UserByIdLoader(RecordLoader[int, UserRecord | None]):
    statement = UserRecord.select().where(User.id.in_(bindparam("keys", expanding=True)))

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        rows = UserRecord.from_rows(await conn.execute(self.statement, {"keys": keys}))
        return in_key_order(keys, rows, lambda user: user.id)
