"""Short URLs, their tags and their recorded visits."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from graphql_api.core.clock import utcnow
from graphql_api.core.db.base import Base, BigId, IdPk, Timestamp, UTCDateTime
from graphql_api.core.db.records import read_model

REDIRECT_STATUSES = (301, 302, 307, 308)
DEFAULT_REDIRECT_STATUS = 302


class ShortUrl(Base):
    __tablename__ = "short_urls"
    __table_args__ = (Index("ix_short_urls_owner_created", "owner_id", "created_at", "id"),)

    id: Mapped[IdPk]
    # Unique by constraint: random codes are inserted and retried on collision.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    target_url: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    redirect_status: Mapped[int] = mapped_column(SmallInteger, default=DEFAULT_REDIRECT_STATUS)
    valid_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    max_visits: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Human visits only (bots are recorded, never counted); only ever incremented in SQL.
    visit_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=utcnow)


class ShortUrlTag(Base):
    __tablename__ = "short_url_tags"
    __table_args__ = (Index("ix_short_url_tags_tag", "tag", "short_url_id"),)

    short_url_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("short_urls.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)


class Visit(Base):
    """One redirect served. No IP address is stored."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_short_url_time", "short_url_id", "visited_at", "id"),)

    id: Mapped[IdPk]
    short_url_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("short_urls.id", ondelete="CASCADE")
    )
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    referrer: Mapped[str | None] = mapped_column(String(1024), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(512), default=None)
    browser: Mapped[str | None] = mapped_column(String(64), default=None)
    os: Mapped[str | None] = mapped_column(String(64), default=None)
    device: Mapped[str | None] = mapped_column(String(16), default=None)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)


# What is only read of a visit (pages of a link's visits) is loaded as this
# (see core.db.records).
VisitRecord = read_model(Visit)
