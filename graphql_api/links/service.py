"""Short URLs: shortening, changes by their owner or an admin, listing."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.clock import utcnow
from graphql_api.core.db.engine import violates
from graphql_api.core.db.keyset import SortKey, parse_datetime, parse_int
from graphql_api.core.errors import ErrorCode, FieldError, InvalidInput
from graphql_api.core.validation import (
    clean_text,
    like_pattern,
    normalise_tag,
    normalise_tags,
    owned_or_admin,
    text_length,
    utc_moment,
)
from graphql_api.links.models import REDIRECT_STATUSES, ShortUrl, ShortUrlTag
from graphql_api.links.validation import (
    RANDOM_CODE_LENGTH,
    check_code,
    check_target_url,
    random_code,
)
from graphql_api.users.models import User

MAX_TITLE_LENGTH = 200
RANDOM_CODE_ATTEMPTS = 8
NEWEST_FIRST = SortKey("s-", ("created_at", "id"), (parse_datetime, parse_int), True)


@dataclass(frozen=True, slots=True)
class LinkRules:
    """What a target or code may not be, from the server's configuration and routes."""

    own_hosts: frozenset[str]
    reserved_codes: frozenset[str]


def _check(
    fields: dict[str, Any],
    errors: list[FieldError],
    rules: LinkRules,
    current: ShortUrl | None = None,
) -> dict[str, Any]:
    """Validated column values for the given subset of fields."""
    values: dict[str, Any] = {}
    if "url" in fields:
        if fields["url"] is None:
            errors.append(FieldError(("url",), ErrorCode.REQUIRED, "url is required."))
        else:
            values["target_url"] = check_target_url(
                fields["url"], errors, own_hosts=rules.own_hosts
            )
    if "title" in fields:
        title = clean_text(fields["title"]) if fields["title"] else None
        values["title"] = title
        if title and (
            error := text_length("title", title, min_length=1, max_length=MAX_TITLE_LENGTH)
        ):
            errors.append(error)
    if "tags" in fields:
        values["tags"] = normalise_tags(fields["tags"] or [], errors)
    if "redirect_status" in fields:
        status = fields["redirect_status"] or 302
        values["redirect_status"] = status
        if status not in REDIRECT_STATUSES:
            errors.append(
                FieldError(
                    ("redirectStatus",),
                    ErrorCode.INVALID,
                    "redirectStatus is one of 301, 302, 307 and 308.",
                )
            )
    if "max_visits" in fields:
        values["max_visits"] = fields["max_visits"]
        if fields["max_visits"] is not None and fields["max_visits"] < 1:
            errors.append(
                FieldError(
                    ("maxVisits",),
                    ErrorCode.OUT_OF_RANGE,
                    "maxVisits is at least 1, or null for no limit.",
                )
            )
    for name, field in (("valid_since", "validSince"), ("expires_at", "expiresAt")):
        if name in fields:
            moment = fields[name]
            values[name] = None if moment is None else utc_moment(moment)
            if moment is not None and values[name] is None:
                errors.append(
                    FieldError(
                        (field,),
                        ErrorCode.INVALID,
                        f"{field} needs a time zone and a year from 1970 to 8999, "
                        "e.g. 2030-01-01T00:00:00Z.",
                    )
                )
    since = values.get("valid_since", current.valid_since if current else None)
    until = values.get("expires_at", current.expires_at if current else None)
    if since and until and until <= since:
        errors.append(
            FieldError(
                ("expiresAt",), ErrorCode.INVALID, "expiresAt must be later than validSince."
            )
        )
    return values


async def _set_tags(session: AsyncSession, link_id: int, tags: list[str]) -> None:
    await session.execute(delete(ShortUrlTag).where(ShortUrlTag.short_url_id == link_id))
    session.add_all(ShortUrlTag(short_url_id=link_id, tag=tag) for tag in tags)


async def shorten(
    session: AsyncSession, *, owner: User, fields: dict[str, Any], rules: LinkRules
) -> ShortUrl:
    """Create a short URL with the given code, or a random one."""
    errors: list[FieldError] = []
    values = _check({"tags": [], "title": None, **fields}, errors, rules)
    code = fields.get("code")
    if code is not None:
        check_code(code, errors, reserved=rules.reserved_codes)
    if errors:
        raise InvalidInput(errors)
    tags = values.pop("tags")
    for attempt in range(RANDOM_CODE_ATTEMPTS):
        # Longer codes after repeated collisions: the space never runs out.
        link = ShortUrl(
            owner_id=owner.id, code=code or random_code(RANDOM_CODE_LENGTH + attempt // 3), **values
        )
        try:
            async with session.begin_nested():
                session.add(link)
                await session.flush()
            break
        except IntegrityError as exc:
            if not violates(exc, "uq_short_urls_code", "short_urls.code"):
                raise
            if code is not None:
                raise InvalidInput.single(
                    "code", ErrorCode.TAKEN, "This code is already taken."
                ) from None
    else:
        raise RuntimeError("no free random code after several attempts")
    session.add_all(ShortUrlTag(short_url_id=link.id, tag=tag) for tag in tags)
    await session.flush()
    return link


async def get_by_code(session: AsyncSession, *, code: str) -> ShortUrl | None:
    """The short URL with this code, or None."""
    return (await session.execute(select(ShortUrl).where(ShortUrl.code == code))).scalar()


async def _get_for_change(session: AsyncSession, *, code: str, actor: User) -> ShortUrl:
    link = (
        await session.execute(select(ShortUrl).where(ShortUrl.code == code).with_for_update())
    ).scalar()
    return owned_or_admin(
        link,
        actor=actor,
        owner_id=link.owner_id if link else None,
        field="code",
        missing="No short URL has this code.",
        refused="Only the link's owner or an admin may change it.",
    )


async def update(
    session: AsyncSession, *, actor: User, code: str, fields: dict[str, Any], rules: LinkRules
) -> ShortUrl:
    """Change any subset of a short URL's settings."""
    link = await _get_for_change(session, code=code, actor=actor)
    errors: list[FieldError] = []
    values = _check(fields, errors, rules, current=link)
    if errors:
        raise InvalidInput(errors)
    if (tags := values.pop("tags", None)) is not None:
        await _set_tags(session, link.id, tags)
    for name, value in values.items():
        setattr(link, name, value)
    link.updated_at = utcnow()
    await session.flush()
    return link


async def set_active(session: AsyncSession, *, actor: User, code: str, active: bool) -> ShortUrl:
    """Enable or disable a short URL (a disabled one answers 410)."""
    link = await _get_for_change(session, code=code, actor=actor)
    link.is_active = active
    link.updated_at = utcnow()
    await session.flush()
    return link


async def remove(session: AsyncSession, *, actor: User, code: str) -> ShortUrl:
    """Delete a short URL with its visits."""
    link = await _get_for_change(session, code=code, actor=actor)
    await session.execute(delete(ShortUrl).where(ShortUrl.id == link.id))
    return link


@dataclass(frozen=True, slots=True)
class LinkFilter:
    tag: str | None = None
    search: str | None = None
    active: bool | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.tag is not None:
            found.append(
                exists().where(
                    ShortUrlTag.short_url_id == ShortUrl.id,
                    ShortUrlTag.tag == normalise_tag(self.tag),
                )
            )
        if self.search:
            pattern = like_pattern(self.search)
            found.append(
                or_(
                    *(
                        c.ilike(pattern, escape="\\")
                        for c in (ShortUrl.code, ShortUrl.title, ShortUrl.target_url)
                    )
                )
            )
        if self.active is not None:
            now = utcnow()
            live = (
                ShortUrl.is_active.is_(True)
                & or_(ShortUrl.valid_since.is_(None), ShortUrl.valid_since <= now)
                & or_(ShortUrl.expires_at.is_(None), ShortUrl.expires_at > now)
                & or_(ShortUrl.max_visits.is_(None), ShortUrl.visit_count < ShortUrl.max_visits)
            )
            found.append(live if self.active else ~live)
        return found


def owned_query(owner_id: int, where: LinkFilter) -> Select[Any]:
    """A user's short URLs that match the filter, unordered (pagination orders them)."""
    return select(ShortUrl).where(ShortUrl.owner_id == owner_id, *where.conditions())
