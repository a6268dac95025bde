"""chatEvents: a room's messages and typing notices, live, without gaps after `after`."""

from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from graphql_api.chat import sequence, service
from graphql_api.chat.presence import ChatRuntime, new_key
from graphql_api.chat.types import ChatMessageType
from graphql_api.core.broker import SlowConsumer
from graphql_api.core.db.engine import Reads
from graphql_api.core.graphql.context import Context, CoreState, Info
from graphql_api.core.graphql.errors import BadUserInput, FellBehind
from graphql_api.core.graphql.fanout import Fanout, Output
from graphql_api.core.graphql.permissions import IsAuthenticated
from graphql_api.core.graphql.relay import pk_of
from graphql_api.core.metrics import open_subscription
from graphql_api.users.loaders import UserByIdLoader
from graphql_api.users.revocation import session_events

if TYPE_CHECKING:
    from graphql_api.users.types import UserType

UserRef = Annotated["UserType", strawberry.lazy("graphql_api.users.types")]
# A room's feed serves every subscriber of the room in this process: it may fall this
# far behind (a burst of typing notices) before all of them are cut off.
FEED_QUEUE_SIZE = 4096


@strawberry.type(description="A message was sent to the room.")
class MessageSent:
    message: ChatMessageType = strawberry.field(description="The message.")


@strawberry.type
class UserEvent:
    user_id: strawberry.Private[int]

    @strawberry.field(description="Who it was.")
    async def user(self, info: Info) -> UserRef:
        return await info.context.loader(UserByIdLoader).load(self.user_id)  # type: ignore[return-value]  # a User for UserType


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
PRESENCE_EVENTS: dict[str, type[UserJoined] | type[UserLeft]] = {
    "UserJoined": UserJoined,
    "UserLeft": UserLeft,
}


@strawberry.type
class ChatSubscriptions:
    @strawberry.subscription(
        description="A room's events as they happen. To miss nothing, read the history "
        "first, then subscribe with `after` set to the ID of the newest message you have "
        "(to resume, the last one heard): the messages sent since then come first, then the "
        "live ones, each once and in the history's order. "
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
            after_seq = None
            if after is not None:
                after_pk = pk_of(after, "ChatMessage")
                if after_pk is None:
                    raise BadUserInput("after must be the ID of a ChatMessage.")
                after_seq = await sequence.seq_of(session, room_id=found.id, message_pk=after_pk)
        viewer = await info.context.require_viewer()
        presence = info.context.state.runtime(ChatRuntime).presence
        shows_author = _asks_for_author(info.selected_fields)
        channel = service.room_channel(found.id)
        fanout = Fanout.of(info)
        # Listening before the database is read: a message committed in between is heard
        # live, or read, or both, and is handed out once (chat/sequence.py).
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(open_subscription("chatEvents"))
            if fanout is None:
                events = await stack.enter_async_context(session_events(info, channel))
            else:
                ended = await stack.enter_async_context(session_events(info))
                member = await stack.enter_async_context(
                    fanout.join(
                        channel,
                        partial(_room_feed, info.context.state, found.id),
                        checks=shows_author,
                    )
                )
            key = new_key()
            try:
                await presence.join(found.id, viewer.id, key)
                resuming = after_seq is not None
                if after_seq is None:
                    # Anything numbered past this commits after we listen: it is heard live.
                    async with info.context.reads.session() as session:
                        after_seq = await sequence.last_seq(session, room_id=found.id)
                messages = sequence.InOrder(info.context.reads, room_id=found.id, newest=after_seq)
                if resuming:
                    async for message in messages.stored():
                        yield MessageSent(message=message)  # type: ignore[arg-type]  # a ChatMessage for ChatMessageType
                if fanout is not None:
                    member.position = messages.newest
                    yield member.live(until=ended)  # type: ignore[misc]  # for core.graphql.fanout.follow
                    return
                async for output in _outputs(events, messages):
                    info.context.forget()  # a connection lives long: nothing cached goes stale
                    if output.check is None or not shows_author or await output.check(info.context):
                        yield output.root
            finally:
                await presence.leave(found.id, viewer.id, key)


@asynccontextmanager
async def _room_feed(state: CoreState, room_id: int) -> AsyncIterator[AsyncIterator[Output]]:
    """A room's events for a feed (`core.graphql.fanout`), read once for every member of
    this process, in the room's order."""
    channel = service.room_channel(room_id)
    async with state.broker.subscribe(channel, queue_size=FEED_QUEUE_SIZE) as events:
        reads = Reads(state.reader)
        async with reads.session() as session:
            newest = await sequence.last_seq(session, room_id=room_id)
        yield _outputs(events, sequence.InOrder(reads, room_id=room_id, newest=newest))


async def _outputs(
    events: AsyncIterator[dict[str, Any]], messages: sequence.InOrder
) -> AsyncIterator[Output]:
    """What each event of the room gives a subscriber: messages in order, none twice."""
    try:
        async for event in events:
            kind = event["type"]
            if kind == "MessageSent":
                async for message in messages.receive(event):
                    live = message.seq == event["seq"]
                    check = partial(_author_exists, event["author_id"]) if live else None
                    yield Output(MessageSent(message=message), message.seq, check)  # type: ignore[arg-type]  # a ChatMessage for ChatMessageType
            elif kind == "UserTyping":
                yield Output(UserTyping(typing=event["typing"], user_id=event["user_id"]))
            elif kind in PRESENCE_EVENTS:
                yield Output(PRESENCE_EVENTS[kind](user_id=event["user_id"]))
    except SlowConsumer:
        raise FellBehind() from None


def _asks_for_author(selections: Iterable[Selection], *, under_message: bool = False) -> bool:
    """Whether the subscription's selection reaches a message's `author` (fragments too)."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            if under_message and selection.name == "author":
                return True
            inside = selection.name == "message"
        else:
            inside = under_message  # a fragment continues the selection it is in
        if _asks_for_author(selection.selections, under_message=inside):
            return True
    return False


async def _author_exists(author_id: int, context: Context) -> bool:
    """False for a message deleted with its author since it was sent: the history no
    longer has it, and its `author` could not be answered. Asked only for subscriptions
    that show the author, whose field needs this very row (the loader keeps it for the
    event): a subscriber that does not is sent the message without a database read.
    (Messages read from the database have their authors.)"""
    return await context.loader(UserByIdLoader).load(author_id) is not None
