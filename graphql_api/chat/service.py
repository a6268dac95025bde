"""Chat rooms and messages: creation, sending, history."""

import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.chat.models import ChatMessage, ChatRoom
from graphql_api.core.db.engine import violates
from graphql_api.core.errors import ErrorCode, FieldError, InvalidInput
from graphql_api.core.validation import clean_text, text_length
from graphql_api.users.models import User

ROOM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
MAX_TITLE_LENGTH = 200
MAX_MESSAGE_LENGTH = 2000


async def create_room(
    session: AsyncSession, *, creator: User, name: str, title: str | None
) -> ChatRoom:
    """Create a room; its name is unique, decided by the database."""
    errors: list[FieldError] = []
    name = name.strip().lower()
    if not ROOM_NAME.fullmatch(name):
        errors.append(
            FieldError(
                ("name",),
                ErrorCode.INVALID,
                "name has 2 to 64 of a-z, 0-9 and '-', starting with a letter or digit.",
            )
        )
    title = clean_text(title or "") or name
    if error := text_length("title", title, min_length=1, max_length=MAX_TITLE_LENGTH):
        errors.append(error)
    if errors:
        raise InvalidInput(errors)
    room = ChatRoom(name=name, title=title, created_by=creator.id)
    session.add(room)
    try:
        await session.flush()
    except IntegrityError as exc:
        if violates(exc, "uq_chat_rooms_name", "chat_rooms.name"):
            raise InvalidInput.single(
                "name", ErrorCode.TAKEN, "A room with this name exists."
            ) from None
        raise
    return room


def _no_room() -> InvalidInput:
    return InvalidInput.single("room", ErrorCode.NOT_FOUND, "No room has this name.")


async def get_room(session: AsyncSession, *, name: str) -> ChatRoom | None:
    """The room with this name, or None."""
    return await session.scalar(select(ChatRoom).where(ChatRoom.name == name.strip().lower()))


async def room_named(session: AsyncSession, *, name: str) -> ChatRoom:
    """The room with this name; a userError on the `room` field when there is none."""
    room = await get_room(session, name=name)
    if room is None:
        raise _no_room()
    return room


async def send_message(
    session: AsyncSession, *, author: User, room_name: str, text: str
) -> ChatMessage:
    """Add a message to a room as its next in sequence (publish it after the commit)."""
    text = clean_text(text)
    if error := text_length(
        "text", text, min_length=1, max_length=MAX_MESSAGE_LENGTH, multiline=True
    ):
        await room_named(session, name=room_name)  # an unknown room is reported first
        raise InvalidInput([error])
    # Locks the room's row until the commit: the next sender's number waits for this
    # message to be visible (chat/sequence.py). A room deleted meanwhile is not found.
    taken = (
        await session.execute(
            update(ChatRoom)
            .where(ChatRoom.name == room_name.strip().lower())
            .values(last_seq=ChatRoom.last_seq + 1)
            .returning(ChatRoom.id, ChatRoom.last_seq)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if taken is None:
        raise _no_room()
    message = ChatMessage(room_id=taken.id, seq=taken.last_seq, author_id=author.id, text=text)
    session.add(message)
    await session.flush()
    return message


def message_event(message: ChatMessage) -> dict[str, Any]:
    """A message as it travels on the broker (JSON)."""
    return {
        "type": "MessageSent",
        "id": message.id,
        "room_id": message.room_id,
        "seq": message.seq,
        "author_id": message.author_id,
        "text": message.text,
        "sent_at": message.sent_at.isoformat(),
    }


def room_channel(room_id: int) -> str:
    return f"chat:{room_id}"
