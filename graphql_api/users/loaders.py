"""Batch loaders for users: one query per batch, whatever the number of keys."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.core.loaders import RecordLoader, by_keys, in_key_order
from graphql_api.users.models import UserRecord


class UserByIdLoader(RecordLoader[int, UserRecord | None]):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        rows = await by_keys(conn, UserRecord, "id", keys)
        return in_key_order(keys, rows, lambda user: user.id)
