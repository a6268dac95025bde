from tests.support.client import GraphQLClient, error_codes
from tests.support.users import SignedIn

UPDATE_ME = """
mutation UpdateMe($input: UpdateMeInput!) {
  updateMe(input: $input) { user { username email } userErrors { field code message } }
}
"""


async def test_update_username_and_email(alice: SignedIn) -> None:
    payload = await alice.client.mutate(UPDATE_ME, {"username": "alicia", "email": "a@new.example"})
    assert payload["user"] == {"username": "alicia", "email": "a@new.example"}
    me = await alice.client.data("query { me { username email } }")
    assert me["me"] == {"username": "alicia", "email": "a@new.example"}


async def test_omitted_fields_stay(alice: SignedIn) -> None:
    payload = await alice.client.mutate(UPDATE_ME, {"username": "alicia"})
    assert payload["user"] == {"username": "alicia", "email": "alice@example.com"}


async def test_taken_username_is_a_user_error_and_changes_nothing(
    alice: SignedIn, bob: SignedIn
) -> None:
    data = await alice.client.data(
        UPDATE_ME, {"input": {"username": "BOB", "email": "x@y.example"}}
    )
    assert data["updateMe"]["userErrors"][0]["code"] == "TAKEN"
    me = await alice.client.data("query { me { username email } }")
    assert me["me"] == {"username": "alice", "email": "alice@example.com"}


async def test_invalid_values_are_user_errors(alice: SignedIn) -> None:
    data = await alice.client.data(UPDATE_ME, {"input": {"username": "no spaces", "email": None}})
    fields = sorted(e["field"][0] for e in data["updateMe"]["userErrors"])
    assert fields == ["email", "username"]


async def test_anonymous_update_is_unauthenticated(anon_client: GraphQLClient) -> None:
    body = await anon_client.execute(UPDATE_ME, {"input": {"username": "who"}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
