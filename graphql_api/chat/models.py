"""Chat rooms and their messages."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from graphql_api.core.clock import utcnow
from graphql_api.core.db.base import Base, BigId, IdPk, Timestamp, UTCDateTime
from graphql_api.core.db.records import read_model


class ChatRoom(Base):
    __tablename__ = "chat_rooms"

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # A room outlives its creator.
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[Timestamp]
    # The sequence number of the room's newest message. Sending increments it, and the
    # row lock that takes is held to the commit: see chat/sequence.py.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ChatMessage(Base):
    """A message; `seq` numbers a room's messages 1, 2, 3 ... in the order they committed.

    History is read in `seq` order, not id order: on PostgreSQL concurrent senders
    commit in another order than they drew their ids.
    """

    __tablename__ = "chat_messages"
    __table_args__ = (UniqueConstraint("room_id", "seq", name="uq_chat_messages_room_id_seq"),)

    id: Mapped[IdPk]
    room_id: Mapped[int] = mapped_column(BigId, ForeignKey("chat_rooms.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# What is only read of a message (history pages) is loaded as this
# (see core.db.records).
ChatMessageRecord = read_model(ChatMessage)
