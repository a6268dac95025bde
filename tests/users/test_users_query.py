from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.graphql.connections import _page_read
from graphql_api.users.models import UserRecord
from graphql_api.users.queries import USERS_ORDER, _users_where
from tests.support.chat import NEW_MESSAGE, create_room
from tests.support.client import GraphQLClient, error_codes
from tests.support.items import CREATE_ITEM
from tests.support.links import shorten
from tests.support.users import SignedIn

USERS = """
query Users($first: Int, $after: String, $search: String) {
  users(first: $first, after: $after, search: $search) {
    totalCount
    nodes { username email isActive }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_users_needs_sign_in(anon_client: GraphQLClient, alice: SignedIn) -> None:
    body = await anon_client.execute(USERS)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_users_in_sign_up_order_with_pages(alice: SignedIn, bob: SignedIn) -> None:
    first = await alice.client.data(USERS, {"first": 1})
    assert first["users"]["nodes"] == [
        {"username": "alice", "email": "alice@example.com", "isActive": True}
    ]
    assert first["users"]["totalCount"] == 2
    assert first["users"]["pageInfo"]["hasNextPage"] is True
    rest = await alice.client.data(USERS, {"after": first["users"]["pageInfo"]["endCursor"]})
    # Other people's email stays private.
    assert rest["users"]["nodes"] == [{"username": "bob", "email": None, "isActive": True}]


async def test_search_by_username_and_only_admins_by_email(
    alice: SignedIn, bob: SignedIn, admin: SignedIn
) -> None:
    assert (await alice.client.data(USERS, {"search": "BO"}))["users"]["totalCount"] == 1
    assert (await alice.client.data(USERS, {"search": "example.com"}))["users"]["totalCount"] == 0
    by_email = await admin.client.data(USERS, {"search": "bob@"})
    assert by_email["users"]["nodes"] == [
        {"username": "bob", "email": "bob@example.com", "isActive": True}
    ]


async def test_disabled_users_are_shown_alike_everywhere(
    alice: SignedIn, bob: SignedIn, admin: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    """One rule: a disabled account appears wherever it would, marked isActive: false."""
    await bob.client.mutate(CREATE_ITEM, {"title": "bob's", "price": "1.00"})
    await create_room(bob, "bobs-room")
    await bob.client.mutate(NEW_MESSAGE, {"room": "bobs-room", "text": "hi"})
    bob_link = (await shorten(bob))["code"]
    async with services.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET is_active = false WHERE username = 'bob'"))
    bob_as_shown = {"username": "bob", "isActive": False}
    everywhere = """query($id: ID!, $code: String!) {
      user(id: $id) { username isActive }
      node(id: $id) { ... on User { username isActive } }
      users(first: 10) { nodes { username isActive } }
      items(first: 1) { nodes { owner { username isActive } } }
      shortUrl(code: $code) { owner { username isActive } }
      chatRoom(name: "bobs-room") { messages(last: 1) { nodes { author { username isActive } } } }
    }"""
    for viewer in (alice, admin):
        seen = await viewer.client.data(everywhere, {"id": bob.id, "code": bob_link})
        assert seen["user"] == seen["node"] == bob_as_shown
        assert bob_as_shown in seen["users"]["nodes"]
        assert seen["items"]["nodes"][0]["owner"] == bob_as_shown
        assert seen["shortUrl"]["owner"] == bob_as_shown
        assert seen["chatRoom"]["messages"]["nodes"][0]["author"] == bob_as_shown
    # A disabled user's token no longer works.
    assert error_codes(await bob.client.execute("query { me { id } }")) == ["UNAUTHENTICATED"]


UPDATE_USER = """
mutation UpdateUser($input: UpdateUserInput!) {
  updateUser(input: $input) { user { username role isActive } userErrors { field code message } }
}
"""


async def test_admin_disables_and_promotes(admin: SignedIn, bob: SignedIn) -> None:
    payload = await admin.client.mutate(UPDATE_USER, {"id": bob.id, "isActive": False})
    assert payload["user"] == {"username": "bob", "role": "USER", "isActive": False}
    assert error_codes(await bob.client.execute("query { me { id } }")) == ["UNAUTHENTICATED"]
    promoted = await admin.client.mutate(UPDATE_USER, {"id": bob.id, "role": "ADMIN"})
    assert promoted["user"]["role"] == "ADMIN"


async def test_admin_cannot_lock_themselves_out(admin: SignedIn) -> None:
    data = await admin.client.data(UPDATE_USER, {"input": {"id": admin.id, "isActive": False}})
    assert data["updateUser"]["userErrors"][0]["code"] == "NOT_ALLOWED"


async def test_update_user_is_for_admins_only(alice: SignedIn, bob: SignedIn) -> None:
    body = await alice.client.execute(UPDATE_USER, {"input": {"id": bob.id, "role": "ADMIN"}})
    assert error_codes(body) == ["FORBIDDEN"]


async def test_me_and_email_visibility(
    anon_client: GraphQLClient, alice: SignedIn, admin: SignedIn
) -> None:
    lookup = "query($id: ID!) { user(id: $id) { username email } }"
    assert (await anon_client.data(lookup, {"id": alice.id}))["user"] == {
        "username": "alice",
        "email": None,
    }
    assert (await alice.client.data(lookup, {"id": alice.id}))["user"]["email"] == (
        "alice@example.com"
    )
    assert (await admin.client.data(lookup, {"id": alice.id}))["user"]["email"] == (
        "alice@example.com"
    )


async def test_a_page_of_users_is_read_off_its_index(engine: AsyncEngine) -> None:
    """The statement of a `users` page walks ix_users_created in order: no sort of every
    user for each page (PostgreSQL is told to avoid sorting, as it would on a big table)."""
    read = _page_read(
        _users_where(admin=False, searching=False), UserRecord, USERS_ORDER, continues=False
    )
    stmt = read.stmt.limit(21)
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            )
            assert "TEMP B-TREE" not in plan, plan
        else:
            await conn.exec_driver_sql("SET enable_sort = off")
            plan = " ".join(row[0] for row in await conn.exec_driver_sql(f"EXPLAIN {sql}"))
            assert " Sort " not in f" {plan} ", plan
    assert "ix_users_created" in plan, plan
