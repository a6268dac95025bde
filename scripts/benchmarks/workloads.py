"""The GraphQL workloads of `scripts/bench`, the data they read, and how wrk sends them.

Seeded straight to the database: USERS users with ITEMS_PER_USER items each. The signed-in
workloads act as the user "bench", signed up through graphql_api (register()). wrk sends
each workload's body again and again with post.lua, with that user's token if signed in.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
from harness import HERE
from sqlalchemy import insert, select

from graphql_api.core.db.engine import create_engine, create_sessionmaker
from graphql_api.core.settings import Settings
from graphql_api.items.models import Item
from graphql_api.users.models import User

USERS = 100
ITEMS_PER_USER = 20


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    query: str
    signed_in: bool = False
    writes: bool = False  # every request changes the data (so answers differ)

    def body(self) -> bytes:
        return orjson.dumps({"query": self.query})

    def wrk_script(self, work: Path, token: str) -> list[str]:
        """wrk's -s script and its arguments: post.lua, a file with the body, the token."""
        body = work / f"{self.name}.json"
        body.write_bytes(self.body())
        return [str(HERE / "post.lua"), str(body), *([token] if self.signed_in else [])]


WORKLOADS = (
    Workload(
        "items",
        "items(first: 20) with owners",
        "query Items { items(first: 20) { nodes { id title price createdAt "
        "owner { id username } } pageInfo { hasNextPage endCursor } } }",
    ),
    Workload(
        "users",
        "users(first: 20) { items(first: 5) }",
        "query Users { users(first: 20) { nodes { id username createdAt "
        "items(first: 5) { nodes { id title price } } } } }",
        signed_in=True,  # the user list is for signed-in users
    ),
    Workload("me", "me, with a token", "query Me { me { id username email role } }", True),
    Workload(
        "createItem",
        "createItem mutation",
        'mutation CreateItem { createItem(input: {title: "Lamp", price: "12.50"}) '
        "{ item { id title price } userErrors { code message } } }",
        signed_in=True,
        writes=True,
    ),
)


async def seed(database_url: str) -> None:
    """USERS users with ITEMS_PER_USER items each, written straight to the database."""
    engine = create_engine(Settings(database_url=database_url))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with create_sessionmaker(engine).begin() as session:
        await session.execute(
            insert(User),
            [
                {
                    "username": f"user{u:03d}",
                    "email": f"user{u:03d}@example.com",
                    "password_hash": "-",
                    "created_at": start + timedelta(minutes=u),
                }
                for u in range(USERS)
            ],
        )
        owners = (await session.execute(select(User.id).order_by(User.id))).scalars().all()
        await session.execute(
            insert(Item),
            [
                {
                    "owner_id": owner,
                    "title": f"Item {i} of {owner}",
                    "price": Decimal(f"{i + 1}.{owner % 100:02d}"),
                    "created_at": start + timedelta(hours=i, minutes=owner),
                }
                for owner in owners
                for i in range(ITEMS_PER_USER)
            ],
        )
    await engine.dispose()


def register(url: str) -> str:
    """Sign up the user the signed-in workloads act as; its access token."""
    answer = httpx.post(
        f"{url}/graphql",
        json={
            "query": "mutation($i: RegisterInput!) { register(input: $i) "
            "{ accessToken userErrors { message } } }",
            "variables": {
                "i": {"username": "bench", "email": "bench@example.com", "password": "x" * 12}
            },
        },
    ).json()
    token = answer["data"]["register"]["accessToken"]
    assert token, answer
    return str(token)


def answer(url: str, workload: Workload, token: str) -> dict[str, object]:
    """A server's answer to one request of `workload`; an answer with errors ends the run."""
    headers = {"Authorization": f"Bearer {token}"} if workload.signed_in else {}
    response = httpx.post(
        f"{url}/graphql",
        content=workload.body(),
        headers={"Content-Type": "application/json", **headers},
    )
    response.raise_for_status()
    result: dict[str, object] = orjson.loads(response.content)
    if "errors" in result:
        raise SystemExit(f"{url} answered {workload.name} with errors: {result}")
    return result
