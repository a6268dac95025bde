from tests.support.items import ITEM, UPDATE_ITEM, make_item
from tests.support.users import SignedIn


async def test_update_a_subset_of_fields(alice: SignedIn) -> None:
    item = await make_item(alice)
    payload = await alice.client.mutate(UPDATE_ITEM, {"id": item["id"], "price": "12.50"})
    assert payload["item"]["price"] == "12.50"
    assert payload["item"]["title"] == "Lamp"
    assert payload["item"]["priceWithTax"] == "13.50"
    assert payload["item"]["tags"] == ["a"]


async def test_null_clears_optional_fields(alice: SignedIn) -> None:
    item = await make_item(alice)
    payload = await alice.client.mutate(
        UPDATE_ITEM, {"id": item["id"], "description": None, "tax": None, "tags": None}
    )
    assert (payload["item"]["description"], payload["item"]["tax"], payload["item"]["tags"]) == (
        None,
        None,
        [],
    )
    assert payload["item"]["updatedAt"] >= item["createdAt"] if "createdAt" in item else True


async def test_tags_are_replaced(alice: SignedIn) -> None:
    item = await make_item(alice)
    payload = await alice.client.mutate(UPDATE_ITEM, {"id": item["id"], "tags": ["x", "Y"]})
    assert payload["item"]["tags"] == ["x", "y"]


async def test_another_user_cannot_change_the_item(alice: SignedIn, bob: SignedIn) -> None:
    item = await make_item(alice)
    data = await bob.client.data(UPDATE_ITEM, {"input": {"id": item["id"], "title": "Mine"}})
    assert data["updateItem"]["item"] is None
    assert data["updateItem"]["userErrors"][0]["code"] == "NOT_ALLOWED"
    assert (await bob.client.data(ITEM, {"id": item["id"]}))["item"]["title"] == "Lamp"


async def test_admin_can_change_any_item(alice: SignedIn, admin: SignedIn) -> None:
    item = await make_item(alice)
    payload = await admin.client.mutate(UPDATE_ITEM, {"id": item["id"], "title": "Fixed"})
    assert payload["item"]["title"] == "Fixed"


async def test_invalid_update_changes_nothing(alice: SignedIn) -> None:
    item = await make_item(alice)
    data = await alice.client.data(
        UPDATE_ITEM,
        {"input": {"id": item["id"], "title": "New", "price": "0", "tags": ["ok"]}},
    )
    assert [e["field"] for e in data["updateItem"]["userErrors"]] == [["price"]]
    after = (await alice.client.data(ITEM, {"id": item["id"]}))["item"]
    assert after == {
        "title": "Lamp",
        "description": "Old",
        "price": "10.00",
        "tax": "1.00",
        "tags": ["a"],
    }


async def test_null_title_or_price_is_required(alice: SignedIn) -> None:
    item = await make_item(alice)
    data = await alice.client.data(
        UPDATE_ITEM, {"input": {"id": item["id"], "title": None, "price": None}}
    )
    codes = sorted((e["field"][0], e["code"]) for e in data["updateItem"]["userErrors"])
    assert codes == [("price", "REQUIRED"), ("title", "REQUIRED")]


async def test_unknown_item_is_not_found(alice: SignedIn) -> None:
    data = await alice.client.data(UPDATE_ITEM, {"input": {"id": "SXRlbTo5OTk5", "title": "x"}})
    assert data["updateItem"]["userErrors"][0]["code"] == "NOT_FOUND"
