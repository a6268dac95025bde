"""chatEvents: a room's messages and typing notices, live, without gaps after `after`."""

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select

from graphql_api.chat import service
from graphql_api.chat.models import ChatMessage
from graphql_api.chat.presence import new_key
from graphql_api.chat.types import ChatMessageType
from graphql_api.core.broker import SlowConsumer
from graphql_api.core.context import Info
from graphql_api.core.errors import BadUserInput, FellBehind
from graphql_api.core.metrics import open_subscription
from graphql_api.core.permissions import IsAuthenticated
from graphql_api.core.relay import pk_of
from graphql_api.users.loaders import UserByIdLoader
from graphql_api.users.revocation import session_events

MAX_REPLAY = 1000
UserRef = Annotated["UserType", strawberry.lazy("graphql_api.users.types")]  # noqa: F821


@strawberry.type(description="A message was sent to the room.")
class MessageSent:
    message: ChatMessageType = strawberry.field(description="The message.")


@strawberry.type
class UserEvent:
    user_id: strawberry.Private[int]

    @strawberry.field(description="Who it was.")
    async def user(self, info: Info) -> UserRef:
        return await info.context.loader(UserByIdLoader).load(self.user_id)  # type: ignore[no-any-return]


@strawberry.type(description="Someone started or stopped typing in the room.")
class UserTyping(UserEvent):
    typing: bool = strawberry.field(description="True while they type.")


@strawberry.type(description="Someone came into the room: their first subscription to it began.")
class UserJoined(UserEvent):
    pass


@strawberry.type(
    description="Someone left the room: their last subscription to it ended "
    "(unsubscribed, or the connection dropped)."
)
class UserLeft(UserEvent):
    pass


ChatEvent = Annotated[
    MessageSent | UserJoined | UserLeft | UserTyping,
    strawberry.union("ChatEvent", description="Something that happened in a chat room."),
]
PRESENCE_EVENTS = {"UserJoined": UserJoined, "UserLeft": UserLeft}


def _message(event: dict[str, Any]) -> ChatMessage:
    return ChatMessage(
        id=event["id"],
        room_id=event["room_id"],
        author_id=event["author_id"],
        text=event["text"],
        sent_at=datetime.fromisoformat(event["sent_at"]),
    )


@strawberry.type
class ChatSubscriptions:
    @strawberry.subscription(
        description="A room's events as they happen. To miss nothing, read the history "
        "first, then subscribe with `after` set to the ID of the newest message you have: "
        "messages sent since then come first (up to 1,000), then the live ones. "
        "UserJoined and UserLeft tell who comes and goes; `ChatRoom.onlineUsers` says who "
        "is there now.",
        permission_classes=[IsAuthenticated],
    )
    async def chat_events(
        self, info: Info, room: str, after: strawberry.ID | None = None
    ) -> AsyncGenerator[ChatEvent, None]:
        async with info.context.reads.session() as session:
            found = await service.get_room(session, name=room)
        if found is None:
            raise BadUserInput("No room has this name.")
        after_pk = None if after is None else pk_of(after, "ChatMessage")
        if after is not None and after_pk is None:
            raise BadUserInput("after must be the ID of a ChatMessage.")
        viewer = await info.context.require_viewer()
        presence = info.context.state.presence
        # Subscribed before the history is read: a message sent in between is in one or
        # the other, and the ID check below drops it from the second.
        async with (
            open_subscription("chatEvents"),
            session_events(info, service.room_channel(found.id)) as events,
        ):
            key = new_key()
            try:
                await presence.join(found.id, viewer.id, key)
                newest = after_pk or 0
                if after_pk is not None:
                    for message in await _missed(info, found.id, after_pk):
                        newest = message.id
                        yield MessageSent(message=message)  # type: ignore[arg-type]
                async for event in events:
                    info.context.forget()  # a connection lives long: nothing cached goes stale
                    kind = event["type"]
                    if kind == "MessageSent" and event["id"] > newest:
                        yield MessageSent(message=_message(event))  # type: ignore[arg-type]
                    elif kind == "UserTyping":
                        yield UserTyping(typing=event["typing"], user_id=event["user_id"])
                    elif kind in PRESENCE_EVENTS:
                        yield PRESENCE_EVENTS[kind](user_id=event["user_id"])
            except SlowConsumer:
                raise FellBehind() from None
            finally:
                await presence.leave(found.id, viewer.id, key)


async def _missed(info: Info, room_id: int, after_pk: int) -> list[ChatMessage]:
    """The room's messages after `after_pk`, oldest first, in a session closed on return."""
    async with info.context.reads.session() as session:
        return list(
            await session.scalars(
                select(ChatMessage)
                .where(ChatMessage.room_id == room_id, ChatMessage.id > after_pk)
                .order_by(ChatMessage.id)
                .limit(MAX_REPLAY)
            )
        )
