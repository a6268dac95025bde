"""Items: things a user owns, with a price and tags."""

from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from graphql_api.core.clock import utcnow
from graphql_api.core.db.base import Base, BigId, IdPk, Money, Timestamp
from graphql_api.core.db.records import read_model


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        # One index per order the API offers, each within an owner and across all items.
        Index("ix_items_owner_created", "owner_id", "created_at", "id"),
        Index("ix_items_created", "created_at", "id"),
        Index("ix_items_price", "price", "id"),
        Index("ix_items_title", "title", "id"),
    )

    id: Mapped[IdPk]
    owner_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    price: Mapped[Decimal] = mapped_column(Money())
    tax: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=utcnow)

    @property
    def price_with_tax(self) -> Decimal:
        return self.price + (self.tax or Decimal(0))


# What is only read of an item (loaders, pages) is loaded as this (see core.db.records).
ItemRecord = read_model(Item)


class ItemTag(Base):
    """A normalised tag on an item; its own table so that filtering by tag uses an index."""

    __tablename__ = "item_tags"
    __table_args__ = (Index("ix_item_tags_tag", "tag", "item_id"),)

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)
