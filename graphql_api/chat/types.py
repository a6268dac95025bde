"""GraphQL types of the chat feature."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.chat.loaders import (
    ChatRoomByIdLoader,
    MessageCountByRoomLoader,
    MessagesByRoomLoader,
)
from graphql_api.chat.models import ChatMessage, ChatRoom
from graphql_api.chat.presence import ChatRuntime
from graphql_api.core.db.keyset import SortKey, parse_int
from graphql_api.core.graphql.connections import (
    Connection,
    child_connection,
    oldest_first,
    page_args,
)
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.payloads import UserError
from graphql_api.core.graphql.relay import Node, global_id, of_model
from graphql_api.users.loaders import UserByIdLoader

if TYPE_CHECKING:
    from graphql_api.users.types import UserType

UserRef = Annotated["UserType", strawberry.lazy("graphql_api.users.types")]
# A room's sequence, not the id: see chat/sequence.py. ("m-" cursors ordered by id.)
NEWEST_FIRST = SortKey("s-", ("seq",), (parse_int,), True)


@strawberry.type(name="ChatMessage", description="A message in a chat room.")
@of_model(ChatMessage)
class ChatMessageType(Node):
    text: str = strawberry.field(description="1 to 2000 characters.")
    sent_at: datetime = strawberry.field(description="When the message was sent.")

    id: strawberry.ID = global_id("ChatMessage", description="The message's global ID.")

    @strawberry.field(description="The room the message was sent to.")
    async def room(root: strawberry.Parent[ChatMessage], info: Info) -> "ChatRoomType":
        return await info.context.loader(ChatRoomByIdLoader).load(root.room_id)  # type: ignore[return-value]  # a ChatRoom for ChatRoomType

    @strawberry.field(description="Who sent it.")
    async def author(root: strawberry.Parent[ChatMessage], info: Info) -> UserRef:
        return await info.context.loader(UserByIdLoader).load(root.author_id)  # type: ignore[return-value]  # a User for UserType


@strawberry.type(description="A page of messages, oldest first.")
class ChatMessageConnection(Connection[ChatMessageType]):
    pass


@strawberry.type(name="ChatRoom", description="A room where signed-in users chat.")
@of_model(ChatRoom)
class ChatRoomType(Node):
    name: str = strawberry.field(description="Unique name: a-z, 0-9 and '-'.")
    title: str = strawberry.field(description="A title for people.")
    created_at: datetime = strawberry.field(description="When the room was created.")

    id: strawberry.ID = global_id("ChatRoom", description="The room's global ID.")

    @strawberry.field(
        description="History, oldest first: the `last` messages (default 20, at most 100) "
        "before the cursor `before` (default: the newest). Pass `pageInfo.startCursor` as "
        "`before` for older ones."
    )
    async def messages(
        root: strawberry.Parent[ChatRoom],
        info: Info,
        last: int | None = None,
        before: str | None = None,
    ) -> ChatMessageConnection:
        connection = await child_connection(
            info.context,
            ChatMessageConnection,
            MessagesByRoomLoader,
            MessageCountByRoomLoader,
            root.id,
            NEWEST_FIRST,
            page_args(NEWEST_FIRST, last, before),
        )
        return oldest_first(connection)

    @strawberry.field(
        description="Who is in the room now (subscribed to its chatEvents), each user "
        "once however many tabs or devices they use."
    )
    async def online_users(root: strawberry.Parent[ChatRoom], info: Info) -> list[UserRef]:
        ids = await info.context.state.runtime(ChatRuntime).presence.online(root.id)
        users = await info.context.loader(UserByIdLoader).load_many(ids)
        return [user for user in users if user is not None]  # type: ignore[misc]  # Users for UserType


@strawberry.type(description="A page of chat rooms.")
class ChatRoomConnection(Connection[ChatRoomType]):
    pass


@strawberry.type(description="The result of createChatRoom.")
class ChatRoomPayload:
    chat_room: ChatRoomType | None = strawberry.field(
        default=None, description="The room as created."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was created, if so."
    )


@strawberry.type(description="The result of sendMessage.")
class SendMessagePayload:
    message: ChatMessageType | None = strawberry.field(
        default=None, description="The message as stored."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was sent, if so."
    )
