"""Chat rooms and their messages."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from graphql_api.core.db import Base, BigId, IdPk, Timestamp, UTCDateTime, utcnow


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


class ChatMessage(Base):
    """A message; ids grow with time, so history is read in id order."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_room_id", "room_id", "id"),)

    id: Mapped[IdPk]
    room_id: Mapped[int] = mapped_column(BigId, ForeignKey("chat_rooms.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
