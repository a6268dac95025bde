"""Batch loaders for users: one query per batch, whatever the number of keys."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.core.db.records import Read
from graphql_api.core.graphql.loaders import ByColumnLoader, RecordLoader
from graphql_api.users.models import RefreshToken, User, UserRecord


# Both load UserRecords, typed as the User each reads as (core.db.records).
class UserByIdLoader(ByColumnLoader[int, User | None]):
    record = UserRecord
    column = "id"


# The user of a session that is still live: some refresh token of its family (one
# sign-in's chain of rotations) is not revoked. Logout, a password change, disabling
# and deleting the account end that, and with it every access token of the session.
_LIVE_SESSION_USER = Read(
    UserRecord,
    UserRecord.select().where(
        User.id == bindparam("user_id"),
        exists(
            select(RefreshToken.id).where(
                RefreshToken.user_id == User.id,
                RefreshToken.family == bindparam("family"),
                RefreshToken.revoked.is_(False),
            )
        ),
    ),
)


class UserBySessionLoader(RecordLoader[tuple[int, str], User | None]):
    """Keys are (user id, session family): the user while that session lives, else None."""

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[tuple[int, str]]) -> list[Any]:
        found = []
        for user_id, family in keys:  # one per request: its viewer
            rows = await _LIVE_SESSION_USER.all(conn, {"user_id": user_id, "family": family})
            found.append(rows[0] if rows else None)
        return found
