"""Identities are never reused, and an access token lives only as long as its session.

SQLite used to hand the largest id out again after its row was deleted: a deleted
user's token then signed in as the next person to register.
"""

import pytest
from sqlalchemy import text

from tests.support.chat import create_room
from tests.support.client import GraphQLClient, error_codes
from tests.support.items import CREATE_ITEM
from tests.support.links import DELETE as DELETE_LINK
from tests.support.links import SHORTEN, shorten
from tests.support.settings import TEST_PASSWORD
from tests.support.users import DELETE_USER, LOGIN, LOGOUT, REFRESH, SignedIn, sign_up

ME = "query { me { id username } }"
UPDATE_ME = """mutation($input: UpdateMeInput!) {
  updateMe(input: $input) { user { username } userErrors { code } } }"""
DELETE_ITEM = """mutation($input: DeleteItemInput!) {
  deleteItem(input: $input) { deletedId userErrors { code } } }"""


async def assert_signed_out(client: GraphQLClient) -> None:
    """Every way of using the token is refused, and nothing is written."""
    for query, variables in (
        (ME, None),
        (UPDATE_ME, {"input": {"username": "intruder"}}),
        (SHORTEN, {"input": {"url": "https://example.com/x"}}),
        (CREATE_ITEM, {"input": {"title": "x", "price": "1.00"}}),
    ):
        body = await client.execute(query, variables)
        assert error_codes(body) == ["UNAUTHENTICATED"], body


async def test_a_deleted_users_token_never_speaks_for_the_next_user(http, services) -> None:  # type: ignore[no-untyped-def]
    carol = await sign_up(http, "carol")
    await carol.client.mutate(DELETE_USER, {"id": carol.id})
    dave = await sign_up(http, "dave")
    assert dave.id != carol.id
    await assert_signed_out(carol.client)
    assert (await dave.client.data(ME))["me"]["username"] == "dave"
    async with services.engine.connect() as conn:
        names = (await conn.execute(text("SELECT username FROM users"))).scalars().all()
    assert names == ["dave"]


async def test_a_token_fails_even_if_its_user_id_comes_back(http, services) -> None:  # type: ignore[no-untyped-def]
    """An id re-created by hand (a restore, say) is not the session the token was for."""
    carol = await sign_up(http, "carol")
    async with services.engine.begin() as conn:
        row = (await conn.execute(text("SELECT * FROM users"))).mappings().one()
        await conn.execute(text("DELETE FROM users"))
        await conn.execute(
            text(
                f"INSERT INTO users ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"
            ),
            {**row, "username": "mallory", "email": "mallory@example.com"},
        )
    # The new account signs in and is the user with carol's old id...
    login = await GraphQLClient(http).mutate(LOGIN, {"login": "mallory", "password": TEST_PASSWORD})
    mallory = GraphQLClient(http, login["accessToken"])
    assert (await mallory.data(ME))["me"]["id"] == carol.id
    # ...but carol's token, of a session that ended with her, is refused.
    await assert_signed_out(carol.client)


@pytest.mark.parametrize("kind", ["item", "link", "room", "user"])
async def test_ids_are_never_handed_out_twice(http, services, alice: SignedIn, kind: str) -> None:  # type: ignore[no-untyped-def]
    """The newest row is deleted each time: its id must not come back."""

    async def sql(statement: str, name: str) -> None:
        async with services.engine.begin() as conn:
            await conn.execute(text(statement), {"name": name})

    seen = []
    for n in range(3):
        if kind == "item":
            item = (await alice.client.mutate(CREATE_ITEM, {"title": "t", "price": "1.00"}))["item"]
            await alice.client.mutate(DELETE_ITEM, {"id": item["id"]})
            seen.append(item["id"])
        elif kind == "link":
            link = await shorten(alice, f"https://example.com/{n}")
            await alice.client.mutate(DELETE_LINK, {"code": link["code"]})
            seen.append(link["id"])
        elif kind == "room":  # rooms have no delete mutation: an operator's delete
            seen.append((await create_room(alice, f"room-{n}"))["id"])
            await sql("DELETE FROM chat_rooms WHERE name = :name", f"room-{n}")
        else:
            seen.append((await sign_up(http, f"user{n}")).id)
            await sql("DELETE FROM users WHERE username = :name", f"user{n}")
    assert len(set(seen)) == 3, seen


async def test_logout_ends_the_access_token_too(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    await anon_client.mutate(LOGOUT, {"refreshToken": alice.refresh_token})
    await assert_signed_out(alice.client)


async def test_other_sessions_and_rotated_tokens_keep_working(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    second = await anon_client.mutate(LOGIN, {"login": "alice", "password": TEST_PASSWORD})
    rotated = await anon_client.mutate(REFRESH, {"refreshToken": alice.refresh_token})
    # Rotation keeps the session: the first access token and the new one both work.
    for token in (rotated["accessToken"], second["accessToken"]):
        assert (await GraphQLClient(anon_client.http, token).data(ME))["me"]["username"] == "alice"
    assert (await alice.client.data(ME))["me"]["username"] == "alice"
    await anon_client.mutate(LOGOUT, {"refreshToken": rotated["refreshToken"]})
    await assert_signed_out(alice.client)
    await assert_signed_out(GraphQLClient(anon_client.http, rotated["accessToken"]))
    assert (await GraphQLClient(anon_client.http, second["accessToken"]).data(ME))["me"]
