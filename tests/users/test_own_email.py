"""A user sees their own email everywhere, the payloads that sign them in included.

Those requests carry no token: the user proves who they are by the mutation itself. That
proof lasts as long as the operation's answer, and shows nobody else's email.
"""

from fastapi import FastAPI

from graphql_api.core.http.fast_path import FastQueries
from tests.support.client import AsgiWebSocket, GraphQLClient
from tests.support.settings import TEST_PASSWORD
from tests.support.users import SignedIn

USER = "user { username email items { nodes { owner { username email } } } }"
REGISTER = f"""mutation($input: RegisterInput!) {{
  register(input: $input) {{ {USER} refreshToken userErrors {{ code }} }} }}"""
LOGIN = f"""mutation($input: LoginInput!) {{
  login(input: $input) {{ {USER} refreshToken userErrors {{ code }} }} }}"""
REFRESH = f"""mutation($input: RefreshTokenInput!) {{
  refreshToken(input: $input) {{ {USER} refreshToken userErrors {{ code }} }} }}"""
CREATE_ITEM = """mutation { createItem(input: {title: "Lamp", price: "1.00"}) {
  item { owner { email } } userErrors { code } } }"""
# Two operations in one document: the sign-in, and a read that must not profit from it.
DOCUMENT = f"""
mutation SignIn($input: LoginInput!) {{ login(input: $input) {{ {USER} }} }}
query Other($id: ID!) {{ user(id: $id) {{ username email }} }}
"""


def own(username: str, *, items: int = 0) -> dict[str, object]:
    email = f"{username}@example.com"
    owner = {"owner": {"username": username, "email": email}}
    return {"username": username, "email": email, "items": {"nodes": [owner] * items}}


async def test_register_login_and_refresh_show_the_users_own_email(
    anon_client: GraphQLClient,
) -> None:
    registered = await anon_client.data(
        REGISTER,
        {"input": {"email": "ann@example.com", "username": "ann", "password": TEST_PASSWORD}},
    )
    assert registered["register"]["user"] == own("ann")
    logged_in = await anon_client.data(
        LOGIN, {"input": {"login": "ann", "password": TEST_PASSWORD}}
    )
    assert logged_in["login"]["userErrors"] == []
    assert logged_in["login"]["user"] == own("ann")
    refreshed = await anon_client.data(
        REFRESH, {"input": {"refreshToken": logged_in["login"]["refreshToken"]}}
    )
    assert refreshed["refreshToken"]["userErrors"] == []
    assert refreshed["refreshToken"]["user"] == own("ann")


async def test_the_users_own_records_read_through_loaders_show_it_too(alice: SignedIn) -> None:
    """An item's owner comes from the request's user loader: the same user, the same rule."""
    created = await alice.client.data(CREATE_ITEM)
    assert created["createItem"]["item"]["owner"] == {"email": "alice@example.com"}
    anonymous = GraphQLClient(alice.client.http)
    logged_in = await anonymous.data(
        LOGIN, {"input": {"login": "alice", "password": TEST_PASSWORD}}
    )
    assert logged_in["login"]["user"] == own("alice", items=1)


async def test_a_sign_in_shows_nobody_elses_email_and_ends_with_its_request(
    anon_client: GraphQLClient, alice: SignedIn, bob: SignedIn, fast: FastQueries
) -> None:
    async def run(operation: str, variables: dict[str, object]) -> dict[str, object]:
        response = await anon_client.http.post(
            "/graphql",
            json={"query": DOCUMENT, "operationName": operation, "variables": variables},
        )
        body: dict[str, object] = response.json()
        assert "errors" not in body, body
        return body

    login = {"input": {"login": "alice", "password": TEST_PASSWORD}}
    assert await run("SignIn", login) == {"data": {"login": {"user": own("alice")}}}
    answered = fast.answered
    # The same document read anonymously, the whole way and then from its plan: the
    # sign-in showed alice her email in its own answer only, and bob's never.
    for _ in range(2):
        for user in (alice, bob):
            other = await run("Other", {"id": user.id})
            assert other == {"data": {"user": {"username": user.username, "email": None}}}
    assert fast.answered > answered
    # Bob signed in with a token of his own, signing in as alice: each sees only their own.
    as_bob = await bob.client.data(LOGIN, login)
    assert as_bob["login"]["user"] == own("alice")


async def test_a_sign_in_over_a_websocket_lasts_for_its_operation(
    app: FastAPI, alice: SignedIn
) -> None:
    socket = AsgiWebSocket(app)
    await socket.open()
    try:
        await socket.send({"type": "connection_init", "payload": {}})
        assert (await socket.receive())["type"] == "connection_ack"
        login = {"input": {"login": "alice", "password": TEST_PASSWORD}}
        await socket.send(
            {"id": "1", "type": "subscribe", "payload": {"query": LOGIN, "variables": login}}
        )
        answer = await socket.receive()
        assert answer["payload"]["data"]["login"]["user"] == own("alice")
        assert (await socket.receive())["type"] == "complete"
        # The connection itself stays anonymous: the next operation sees no email.
        read = {"query": DOCUMENT, "operationName": "Other", "variables": {"id": alice.id}}
        await socket.send({"id": "2", "type": "subscribe", "payload": read})
        answer = await socket.receive()
        assert answer["payload"] == {"data": {"user": {"username": "alice", "email": None}}}
    finally:
        await socket.close()
