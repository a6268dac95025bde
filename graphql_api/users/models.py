"""User accounts and their refresh tokens."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from graphql_api.core.clock import utcnow
from graphql_api.core.db.base import Base, BigId, IdPk, Timestamp, UTCDateTime
from graphql_api.core.db.records import read_model


class Role(StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"


class User(Base):
    __tablename__ = "users"
    # `users` lists in sign-up order: a page reads its rows off this index, not a sort.
    __table_args__ = (Index("ix_users_created", "created_at", "id"),)

    id: Mapped[IdPk]
    username: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, validate_strings=True), default=Role.USER
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on a password change: access tokens issued before it stop working.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


# What is only read of a user (loaders, pages) is loaded as this (see core.db.records).
UserRecord = read_model(User)

# Case-insensitive uniqueness, enforced by the database (no check-then-insert race).
Index("uq_users_username_lower", func.lower(User.username), unique=True)
Index("uq_users_email_lower", func.lower(User.email), unique=True)


class RefreshToken(Base):
    """One issued refresh token, stored as a hash; a family is one login's chain of rotations."""

    __tablename__ = "refresh_tokens"

    id: Mapped[IdPk]
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family: Mapped[str] = mapped_column(String(43), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[Timestamp]
    # Set when rotated or revoked: presenting it again then revokes the whole family.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
