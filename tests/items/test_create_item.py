import pytest

from tests.support.client import GraphQLClient, error_codes
from tests.support.databases import count_rows
from tests.support.items import CREATE_ITEM
from tests.support.users import SignedIn


async def test_create_item(alice: SignedIn) -> None:
    payload = await alice.client.mutate(
        CREATE_ITEM,
        {
            "title": "  Desk lamp ",
            "description": "Warm light",
            "price": "19.90",
            "tax": "3.78",
            "tags": ["Home Office", "lighting", "home office"],
        },
    )
    item = payload["item"]
    assert item["title"] == "Desk lamp"
    assert (item["price"], item["tax"], item["priceWithTax"]) == ("19.90", "3.78", "23.68")
    assert item["tags"] == ["home-office", "lighting"]
    assert item["owner"] == {"username": "alice"}


async def test_price_without_tax(alice: SignedIn) -> None:
    payload = await alice.client.mutate(CREATE_ITEM, {"title": "Pen", "price": "2"})
    assert payload["item"]["tax"] is None
    assert payload["item"]["priceWithTax"] == "2.00"


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"title": "", "price": "1"}, ["title"], "REQUIRED"),
        ({"title": "   ", "price": "1"}, ["title"], "REQUIRED"),
        ({"title": "x" * 201, "price": "1"}, ["title"], "TOO_LONG"),
        ({"title": "Pen", "price": "0"}, ["price"], "OUT_OF_RANGE"),
        ({"title": "Pen", "price": "-5"}, ["price"], "OUT_OF_RANGE"),
        ({"title": "Pen", "price": "1.001"}, ["price"], "INVALID"),
        ({"title": "Pen", "price": "1e20"}, ["price"], "OUT_OF_RANGE"),
        ({"title": "Pen", "price": "1", "tax": "-1"}, ["tax"], "OUT_OF_RANGE"),
        ({"title": "Pen", "price": "1", "tags": ["ok", "!!"]}, ["tags", "1"], "INVALID"),
        (
            {"title": "Pen", "price": "1", "tags": [f"t{i}" for i in range(21)]},
            ["tags"],
            "TOO_MANY",
        ),
    ],
)
async def test_invalid_input_is_a_user_error_and_adds_nothing(
    alice: SignedIn,
    services,
    fields,
    field,
    code,  # type: ignore[no-untyped-def]
) -> None:
    data = await alice.client.data(CREATE_ITEM, {"input": fields})
    assert data["createItem"]["item"] is None
    assert [(e["field"], e["code"]) for e in data["createItem"]["userErrors"]] == [(field, code)]
    assert await count_rows(services.engine, "items") == 0


async def test_price_that_is_not_a_number_is_a_validation_error(alice: SignedIn, services) -> None:  # type: ignore[no-untyped-def]
    body = await alice.client.execute(CREATE_ITEM, {"input": {"title": "Pen", "price": "abc"}})
    assert body["data"] is None
    assert "price" in body["errors"][0]["message"] or "Decimal" in body["errors"][0]["message"]
    assert await count_rows(services.engine, "items") == 0


async def test_anonymous_create_is_unauthenticated(anon_client: GraphQLClient, services) -> None:  # type: ignore[no-untyped-def]
    body = await anon_client.execute(CREATE_ITEM, {"input": {"title": "Pen", "price": "1"}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None
    assert await count_rows(services.engine, "items") == 0
