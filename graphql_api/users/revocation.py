"""Ending sessions everywhere at once: their subscriptions hear it through the broker.

HTTP requests check the session of their token on every request (`auth.authenticate`).
A subscription lives long, so the commit that ends a session (logout, a password
change, disabling or deleting the account) is announced on the user's channel, and
every subscription of that session, on every worker, ends with UNAUTHENTICATED.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from graphql_api.core.broker import Broker, Message
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.errors import Unauthenticated
from graphql_api.core.security.tokens import TokenType

SESSION_ENDED = "SessionEnded"
ENDED_MESSAGE = "Your session has ended: sign in again."


def sessions_channel(user_id: int) -> str:
    return f"sessions:{user_id}"


async def announce_end(broker: Broker, *, user_id: int, family: str | None = None) -> None:
    """After the commit that ended them: the session `family`, or every one of the user's."""
    await broker.publish(sessions_channel(user_id), {"type": SESSION_ENDED, "family": family})


@asynccontextmanager
async def session_events(
    info: Info, *channels: str, queue_size: int = 256
) -> AsyncIterator[AsyncIterator[Message]]:
    """The messages of `channels` for the signed-in viewer, until their session ends (with
    none, an iterator that only ever raises that)."""
    context = info.context
    viewer = await context.require_viewer()
    claims = context.state.tokens.decode(context.token or "", TokenType.ACCESS)
    family = claims.extra["sid"]
    async with context.state.broker.subscribe(
        *channels, sessions_channel(viewer.id), queue_size=queue_size
    ) as events:
        # A session that ended before the subscription above began is not announced to it.
        context.forget()
        await context.require_viewer()
        yield _until_ended(events, family)


async def _until_ended(events: AsyncIterator[Message], family: str) -> AsyncIterator[Message]:
    async for event in events:
        if event.get("type") != SESSION_ENDED:
            yield event
        elif event["family"] in (None, family):
            raise Unauthenticated(ENDED_MESSAGE)
