"""Mutations of the chat feature."""

import strawberry

from graphql_api.chat import service
from graphql_api.chat.types import ChatRoomPayload, SendMessagePayload
from graphql_api.core.db.engine import write_transaction
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.payloads import UserError, reports_user_errors
from graphql_api.core.graphql.permissions import IsAuthenticated
from graphql_api.users.auth import viewer_user


@strawberry.input(description="A new chat room.")
class CreateChatRoomInput:
    name: str = strawberry.field(description="2 to 64 of a-z, 0-9 and '-'; unique.")
    title: str | None = strawberry.field(default=None, description="Defaults to the name.")


@strawberry.input(description="A message to send.")
class SendMessageInput:
    room: str = strawberry.field(description="The room's name.")
    text: str = strawberry.field(description="1 to 2000 characters.")


@strawberry.input(description="Tell a room you are typing, or stopped.")
class SetTypingInput:
    room: str = strawberry.field(description="The room's name.")
    typing: bool = strawberry.field(description="True when you start, false when you stop.")


@strawberry.type(description="The result of setTyping.")
class SetTypingPayload:
    ok: bool = strawberry.field(default=False, description="True when the room was told.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nobody was told, if so."
    )


@strawberry.type
class ChatMutations:
    @strawberry.mutation(description="Create a chat room.", permission_classes=[IsAuthenticated])
    @reports_user_errors
    async def create_chat_room(self, info: Info, input: CreateChatRoomInput) -> ChatRoomPayload:
        creator = await viewer_user(info)
        async with write_transaction(info.context.sessionmaker) as session:
            room = await service.create_room(
                session, creator=creator, name=input.name, title=input.title
            )
        return ChatRoomPayload(chat_room=room)  # type: ignore[arg-type]  # a ChatRoom for ChatRoomType

    @strawberry.mutation(
        description="Send a message to a room; its subscribers get it live.",
        permission_classes=[IsAuthenticated],
    )
    @reports_user_errors
    async def send_message(self, info: Info, input: SendMessageInput) -> SendMessagePayload:
        author = await viewer_user(info)
        async with write_transaction(info.context.sessionmaker) as session:
            message = await service.send_message(
                session, author=author, room_name=input.room, text=input.text
            )
        # After the commit: a subscriber never hears of a message that is not stored.
        await info.context.state.broker.publish(
            service.room_channel(message.room_id), service.message_event(message)
        )
        return SendMessagePayload(message=message)  # type: ignore[arg-type]  # a ChatMessage for ChatMessageType

    @strawberry.mutation(
        description="Tell the room's subscribers you are typing (nothing is stored).",
        permission_classes=[IsAuthenticated],
    )
    @reports_user_errors
    async def set_typing(self, info: Info, input: SetTypingInput) -> SetTypingPayload:
        user = await viewer_user(info)
        async with info.context.reads.session() as session:
            room = await service.room_named(session, name=input.room)
        await info.context.state.broker.publish(
            service.room_channel(room.id),
            {"type": "UserTyping", "user_id": user.id, "typing": input.typing},
        )
        return SetTypingPayload(ok=True)
