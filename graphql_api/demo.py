"""Demo data for `graphql-api seed`: users with items and short links, and a chat room."""

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.chat import service as chat
from graphql_api.core.errors import ErrorCode, FieldError, InvalidInput
from graphql_api.items import service as items
from graphql_api.links import service as links
from graphql_api.links.service import LinkRules
from graphql_api.users.models import User
from graphql_api.users.service import check_password, check_username

ROOM = "general"
USERS_PER_TRANSACTION = 50


def demo_username(prefix: str, n: int) -> str:
    return f"{prefix}{n}"


async def check(session: AsyncSession, *, prefix: str, password: str) -> None:
    """Refuse a prefix that makes bad usernames or is taken, and a weak password."""
    errors: list[FieldError] = []
    check_username(demo_username(prefix, 1), errors, field="prefix")
    check_password(password, errors)
    if errors:
        raise InvalidInput(errors)
    taken = await session.scalar(
        select(User.username).where(User.username == demo_username(prefix, 1))
    )
    if taken is not None:
        raise InvalidInput.single(
            "prefix",
            ErrorCode.TAKEN,
            f"{taken} exists already: the database was seeded with this prefix "
            "(choose another with --prefix)",
        )


async def seed_users(
    session: AsyncSession,
    *,
    start: int,
    count: int,
    prefix: str,
    password_hash: str,
    items_each: int,
    links_each: int,
    rules: LinkRules,
    done: Callable[[], None],
) -> list[User]:
    """Users start..start+count-1, each with items and links; `done` after each user."""
    users = []
    for n in range(start, start + count):
        username = demo_username(prefix, n)
        user = User(username=username, email=f"{username}@example.com", password_hash=password_hash)
        session.add(user)
        await session.flush()
        for i in range(1, items_each + 1):
            fields = {"title": f"Item {i} of {username}", "price": Decimal(f"{i * 3}.99")}
            await items.create_item(session, owner=user, fields={**fields, "tags": ["demo"]})
        for i in range(1, links_each + 1):
            fields = {"url": f"https://example.com/{username}/{i}", "title": f"Link {i}"}
            await links.shorten(session, owner=user, fields=fields, rules=rules)
        users.append(user)
        done()
    return users


async def seed_room(session: AsyncSession, *, creator: User) -> bool:
    """The `general` room, unless it exists; whether it was made."""
    if await chat.get_room(session, name=ROOM) is not None:
        return False
    await chat.create_room(session, creator=creator, name=ROOM, title="General talk")
    return True
