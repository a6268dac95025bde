from tests.support.items import DELETE_ITEM, ITEM, make_item
from tests.support.users import SignedIn


async def test_owner_deletes_item(alice: SignedIn) -> None:
    item = await make_item(alice)
    payload = await alice.client.mutate(DELETE_ITEM, {"id": item["id"]})
    assert payload["deletedId"] == item["id"]
    assert (await alice.client.data(ITEM, {"id": item["id"]}))["item"] is None
    again = await alice.client.data(DELETE_ITEM, {"input": {"id": item["id"]}})
    assert again["deleteItem"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_another_user_cannot_delete_the_item(alice: SignedIn, bob: SignedIn) -> None:
    item = await make_item(alice)
    data = await bob.client.data(DELETE_ITEM, {"input": {"id": item["id"]}})
    assert data["deleteItem"] == {
        "deletedId": None,
        "userErrors": [
            {
                "field": ["id"],
                "code": "NOT_ALLOWED",
                "message": "Only the item's owner or an admin may change it.",
            }
        ],
    }
    assert (await bob.client.data(ITEM, {"id": item["id"]}))["item"] is not None


async def test_admin_deletes_any_item(alice: SignedIn, admin: SignedIn) -> None:
    item = await make_item(alice)
    assert (await admin.client.mutate(DELETE_ITEM, {"id": item["id"]}))["deletedId"] == item["id"]
