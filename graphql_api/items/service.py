"""Items: listing with filters and orders, and changes by their owner or an admin."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.clock import utcnow
from graphql_api.core.db.keyset import SortKey, parse_datetime, parse_decimal, parse_int, parse_str
from graphql_api.core.errors import ErrorCode, FieldError, InvalidInput
from graphql_api.core.validation import (
    clean_text,
    like_pattern,
    normalise_tag,
    normalise_tags,
    owned_or_admin,
    text_length,
)
from graphql_api.items.models import Item, ItemTag
from graphql_api.users.models import User

MAX_TITLE_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 10_000
MAX_AMOUNT = Decimal("9999999999.99")
CENT = Decimal("0.01")


class ItemOrder(Enum):
    CREATED_AT_DESC = SortKey("c-", ("created_at", "id"), (parse_datetime, parse_int), True)
    CREATED_AT_ASC = SortKey("c+", ("created_at", "id"), (parse_datetime, parse_int), False)
    PRICE_ASC = SortKey("p+", ("price", "id"), (parse_decimal, parse_int), False)
    PRICE_DESC = SortKey("p-", ("price", "id"), (parse_decimal, parse_int), True)
    TITLE_ASC = SortKey("t+", ("title", "id"), (parse_str, parse_int), False)
    TITLE_DESC = SortKey("t-", ("title", "id"), (parse_str, parse_int), True)


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Which items a list shows; hashable, so it can be part of a DataLoader key."""

    tag: str | None = None
    search: str | None = None

    @property
    def shape(self) -> tuple[bool, bool]:
        """Which conditions apply (tag, search): statements are built once per shape."""
        return self.tag is not None, bool(self.search)

    def parameters(self) -> dict[str, str]:
        """The values of `conditions`' bound parameters."""
        found = {}
        if self.tag is not None:
            found["tag"] = normalise_tag(self.tag)
        if self.search:
            found["pattern"] = like_pattern(self.search)
        return found


def conditions(shape: tuple[bool, bool], model: Any = Item) -> list[ColumnElement[bool]]:
    """The conditions of a filter of this shape, on `:tag` and `:pattern` (`parameters`)."""
    tagged, searching = shape
    found: list[ColumnElement[bool]] = []
    if tagged:
        found.append(exists().where(ItemTag.item_id == model.id, ItemTag.tag == bindparam("tag")))
    if searching:
        pattern: BindParameter[str] = bindparam("pattern")
        found.append(
            or_(
                model.title.ilike(pattern, escape="\\"),
                model.description.ilike(pattern, escape="\\"),
            )
        )
    return found


@lru_cache(maxsize=8)
def items_where(shape: tuple[bool, bool], *, by_owner: bool) -> Select[Any]:
    """The items a list of this filter shape shows (those of `:owner_id` if `by_owner`),
    unordered: pagination orders them. Built once (core.graphql.connections.read_page)."""
    stmt = select(Item.id).where(*conditions(shape))
    return stmt.where(Item.owner_id == bindparam("owner_id")) if by_owner else stmt


def _amount(field: str, value: Any, errors: list[FieldError], *, positive: bool) -> Decimal:
    try:
        amount = Decimal(value)
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, TypeError, ValueError):
        errors.append(FieldError((field,), ErrorCode.INVALID, f"{field} must be a number."))
        return Decimal(0)
    if positive and amount <= 0:
        errors.append(FieldError((field,), ErrorCode.OUT_OF_RANGE, f"{field} must be above 0."))
    elif amount < 0:
        errors.append(
            FieldError((field,), ErrorCode.OUT_OF_RANGE, f"{field} must not be negative.")
        )
    elif amount > MAX_AMOUNT:
        errors.append(
            FieldError((field,), ErrorCode.OUT_OF_RANGE, f"{field} is at most {MAX_AMOUNT}.")
        )
    elif amount != amount.quantize(CENT):
        errors.append(FieldError((field,), ErrorCode.INVALID, f"{field} has at most 2 decimals."))
    else:
        return amount.quantize(CENT)
    return amount


def _check(changes: dict[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    """Validated column values for the given subset of fields."""
    values: dict[str, Any] = {}
    if "title" in changes:
        values["title"] = title = clean_text(changes["title"] or "")
        if error := text_length("title", title, min_length=1, max_length=MAX_TITLE_LENGTH):
            errors.append(error)
    if "description" in changes:
        description = clean_text(changes["description"] or "") or None
        values["description"] = description
        if description and (
            error := text_length(
                "description",
                description,
                min_length=0,
                max_length=MAX_DESCRIPTION_LENGTH,
                multiline=True,
            )
        ):
            errors.append(error)
    if "price" in changes:
        if changes["price"] is None:
            errors.append(FieldError(("price",), ErrorCode.REQUIRED, "price is required."))
        else:
            values["price"] = _amount("price", changes["price"], errors, positive=True)
    if "tax" in changes:
        tax = changes["tax"]
        values["tax"] = None if tax is None else _amount("tax", tax, errors, positive=False)
    if "tags" in changes:
        values["tags"] = normalise_tags(changes["tags"] or [], errors)
    return values


async def _set_tags(session: AsyncSession, item_id: int, tags: list[str]) -> None:
    await session.execute(delete(ItemTag).where(ItemTag.item_id == item_id))
    session.add_all(ItemTag(item_id=item_id, tag=tag) for tag in tags)


async def create_item(session: AsyncSession, *, owner: User, fields: dict[str, Any]) -> Item:
    """Create an item owned by `owner`."""
    errors: list[FieldError] = []
    values = _check({"tags": [], "description": None, "tax": None, **fields}, errors)
    if errors:
        raise InvalidInput(errors)
    tags = values.pop("tags")
    item = Item(owner_id=owner.id, **values)
    session.add(item)
    await session.flush()
    session.add_all(ItemTag(item_id=item.id, tag=tag) for tag in tags)
    await session.flush()
    return item


async def _get_for_change(session: AsyncSession, *, item_id: int, actor: User) -> Item:
    item = await session.get(Item, item_id, with_for_update=True)
    return owned_or_admin(
        item,
        actor=actor,
        owner_id=item.owner_id if item else None,
        field="id",
        missing="No item has this ID.",
        refused="Only the item's owner or an admin may change it.",
    )


async def update_item(
    session: AsyncSession, *, actor: User, item_id: int, changes: dict[str, Any]
) -> Item:
    """Change any subset of an item's fields."""
    errors: list[FieldError] = []
    values = _check(changes, errors)
    item = await _get_for_change(session, item_id=item_id, actor=actor)
    if errors:
        raise InvalidInput(errors)
    if (tags := values.pop("tags", None)) is not None:
        await _set_tags(session, item.id, tags)
    for name, value in values.items():
        setattr(item, name, value)
    item.updated_at = utcnow()  # also when only the tags changed
    await session.flush()
    return item


async def delete_item(session: AsyncSession, *, actor: User, item_id: int) -> int:
    """Delete an item and its tags."""
    item = await _get_for_change(session, item_id=item_id, actor=actor)
    await session.execute(delete(Item).where(Item.id == item.id))
    return item.id
