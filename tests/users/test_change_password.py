from tests.support.client import GraphQLClient, error_codes
from tests.support.settings import TEST_PASSWORD
from tests.support.users import LOGIN, REFRESH, SignedIn

CHANGE_PASSWORD = """
mutation Change($input: ChangePasswordInput!) {
  changePassword(input: $input) { user { username } userErrors { field code message } }
}
"""
ME = "query { me { username } }"
NEW_PASSWORD = "a brand new passphrase"


async def test_change_password_ends_every_session(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    payload = await alice.client.mutate(
        CHANGE_PASSWORD, {"currentPassword": TEST_PASSWORD, "newPassword": NEW_PASSWORD}
    )
    assert payload["user"] == {"username": "alice"}
    assert error_codes(await alice.client.execute(ME)) == ["UNAUTHENTICATED"]
    stale = await anon_client.data(REFRESH, {"input": {"refreshToken": alice.refresh_token}})
    assert stale["refreshToken"]["userErrors"][0]["code"] == "INVALID_TOKEN"
    old = await anon_client.data(LOGIN, {"input": {"login": "alice", "password": TEST_PASSWORD}})
    assert old["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    await anon_client.mutate(LOGIN, {"login": "alice", "password": NEW_PASSWORD})


async def test_wrong_current_password_changes_nothing(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    data = await alice.client.data(
        CHANGE_PASSWORD,
        {"input": {"currentPassword": "not-the-password", "newPassword": NEW_PASSWORD}},
    )
    assert data["changePassword"]["userErrors"][0]["field"] == ["currentPassword"]
    assert (await alice.client.data(ME))["me"]["username"] == "alice"
    await anon_client.mutate(LOGIN, {"login": "alice", "password": TEST_PASSWORD})


async def test_short_new_password_is_a_user_error(alice: SignedIn) -> None:
    data = await alice.client.data(
        CHANGE_PASSWORD, {"input": {"currentPassword": TEST_PASSWORD, "newPassword": "short"}}
    )
    assert data["changePassword"]["userErrors"][0] == {
        "field": ["newPassword"],
        "code": "TOO_SHORT",
        "message": "newPassword must be at least 8 characters.",
    }


async def test_anonymous_change_password_is_unauthenticated(anon_client: GraphQLClient) -> None:
    body = await anon_client.execute(
        CHANGE_PASSWORD, {"input": {"currentPassword": "x" * 8, "newPassword": NEW_PASSWORD}}
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None
