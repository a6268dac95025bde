from tests.conftest import GraphQLClient, SignedIn, error_codes
from tests.items.test_create_item import CREATE_ITEM

DELETE_USER = """
mutation DeleteUser($input: DeleteUserInput!) {
  deleteUser(input: $input) { deletedId userErrors { field code message } }
}
"""


async def test_user_deletes_themselves_with_their_items(
    anon_client: GraphQLClient, alice: SignedIn, bob: SignedIn
) -> None:
    item = await alice.client.mutate(CREATE_ITEM, {"title": "Lamp", "price": "10"})
    await bob.client.mutate(CREATE_ITEM, {"title": "Chair", "price": "20"})
    payload = await alice.client.mutate(DELETE_USER, {"id": alice.id})
    assert payload["deletedId"] == alice.id
    gone = await anon_client.data(
        "query($id: ID!, $item: ID!) { user(id: $id) { id } item(id: $item) { id } }",
        {"id": alice.id, "item": item["item"]["id"]},
    )
    assert gone == {"user": None, "item": None}
    items = await anon_client.data("query { items { totalCount nodes { title } } }")
    assert items["items"] == {"totalCount": 1, "nodes": [{"title": "Chair"}]}
    # The deleted user's token stops working.
    assert error_codes(await alice.client.execute("query { me { id } }")) == ["UNAUTHENTICATED"]


async def test_user_cannot_delete_another_user(alice: SignedIn, bob: SignedIn) -> None:
    data = await alice.client.data(DELETE_USER, {"input": {"id": bob.id}})
    assert data["deleteUser"]["deletedId"] is None
    assert data["deleteUser"]["userErrors"][0]["code"] == "NOT_ALLOWED"
    assert (await bob.client.data("query { me { username } }"))["me"]["username"] == "bob"


async def test_admin_deletes_any_user(admin: SignedIn, bob: SignedIn) -> None:
    payload = await admin.client.mutate(DELETE_USER, {"id": bob.id})
    assert payload["deletedId"] == bob.id


async def test_unknown_or_malformed_id_is_not_found(alice: SignedIn) -> None:
    for bad in ("SXRlbTox", "not-an-id", "VXNlcjo5OTk5"):  # an Item ID, garbage, User:9999
        data = await alice.client.data(DELETE_USER, {"input": {"id": bad}})
        assert data["deleteUser"]["userErrors"][0]["code"] == "NOT_FOUND", bad


async def test_anonymous_delete_is_unauthenticated(
    anon_client: GraphQLClient, bob: SignedIn
) -> None:
    body = await anon_client.execute(DELETE_USER, {"input": {"id": bob.id}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
