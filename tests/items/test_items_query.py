import pytest

from tests.support.client import GraphQLClient, error_codes
from tests.support.items import CREATE_ITEM
from tests.support.users import SignedIn

ITEMS = """
query Items($first: Int, $after: String, $ownerId: ID, $tag: String, $search: String,
            $orderBy: ItemOrder) {
  items(first: $first, after: $after, ownerId: $ownerId, tag: $tag, search: $search,
        orderBy: $orderBy) {
    totalCount
    edges { cursor node { title price owner { username } } }
    nodes { title }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def create(
    owner: SignedIn,
    title: str,
    price: str,
    tags: list[str] | None = None,
    description: str | None = None,
) -> None:
    await owner.client.mutate(
        CREATE_ITEM,
        {"title": title, "price": price, "tags": tags or [], "description": description},
    )


@pytest.fixture
async def catalogue(alice: SignedIn, bob: SignedIn) -> None:
    await create(alice, "Lamp", "30", ["home", "light"], "A warm desk lamp")
    await create(alice, "Chair", "45.50", ["home"])
    await create(bob, "Bike", "300", ["outdoor"], "Fast and light 100%")
    await create(bob, "Apple", "0.99", [])


async def titles(client: GraphQLClient, **variables: object) -> list[str]:
    data = await client.data(ITEMS, variables)
    return [n["title"] for n in data["items"]["nodes"]]


async def test_newest_first_by_default(anon_client: GraphQLClient, catalogue: None) -> None:
    data = await anon_client.data(ITEMS)
    assert [n["title"] for n in data["items"]["nodes"]] == ["Apple", "Bike", "Chair", "Lamp"]
    assert data["items"]["totalCount"] == 4
    assert [e["node"]["title"] for e in data["items"]["edges"]] == [
        "Apple",
        "Bike",
        "Chair",
        "Lamp",
    ]
    assert data["items"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("CREATED_AT_ASC", ["Lamp", "Chair", "Bike", "Apple"]),
        ("PRICE_ASC", ["Apple", "Lamp", "Chair", "Bike"]),
        ("PRICE_DESC", ["Bike", "Chair", "Lamp", "Apple"]),
        ("TITLE_ASC", ["Apple", "Bike", "Chair", "Lamp"]),
        ("TITLE_DESC", ["Lamp", "Chair", "Bike", "Apple"]),
    ],
)
async def test_orders(
    anon_client: GraphQLClient, catalogue: None, order: str, expected: list[str]
) -> None:
    assert await titles(anon_client, orderBy=order) == expected


@pytest.mark.parametrize("order", ["CREATED_AT_DESC", "PRICE_ASC", "TITLE_DESC"])
async def test_pages_cover_everything_once(
    anon_client: GraphQLClient, catalogue: None, order: str
) -> None:
    everything = await titles(anon_client, orderBy=order)
    seen: list[str] = []
    after = None
    for _ in range(len(everything)):
        data = await anon_client.data(ITEMS, {"first": 1, "after": after, "orderBy": order})
        seen += [n["title"] for n in data["items"]["nodes"]]
        assert data["items"]["totalCount"] == 4
        if not data["items"]["pageInfo"]["hasNextPage"]:
            break
        after = data["items"]["pageInfo"]["endCursor"]
    assert seen == everything
    assert data["items"]["pageInfo"]["hasNextPage"] is False


async def test_cursor_is_stable_under_inserts(
    anon_client: GraphQLClient, alice: SignedIn, catalogue: None
) -> None:
    first_page = await anon_client.data(ITEMS, {"first": 2})
    assert [n["title"] for n in first_page["items"]["nodes"]] == ["Apple", "Bike"]
    await create(alice, "Newest", "5")
    rest = await titles(anon_client, first=10, after=first_page["items"]["pageInfo"]["endCursor"])
    assert rest == ["Chair", "Lamp"]


async def test_filters(anon_client: GraphQLClient, alice: SignedIn, catalogue: None) -> None:
    assert await titles(anon_client, tag="home") == ["Chair", "Lamp"]
    assert await titles(anon_client, tag="HOME") == ["Chair", "Lamp"]
    assert await titles(anon_client, tag=" Light ") == ["Lamp"]
    assert await titles(anon_client, search="LIGHT") == ["Bike"]
    assert await titles(anon_client, search="a") == ["Apple", "Bike", "Chair", "Lamp"]
    assert await titles(anon_client, search="Warm") == ["Lamp"]
    assert await titles(anon_client, search="100%") == ["Bike"]
    assert await titles(anon_client, search="%") == ["Bike"]  # wildcards are literal
    assert await titles(anon_client, search="_") == []
    assert await titles(anon_client, ownerId=alice.id) == ["Chair", "Lamp"]
    assert await titles(anon_client, ownerId=alice.id, tag="light") == ["Lamp"]
    data = await anon_client.data(ITEMS, {"tag": "home"})
    assert data["items"]["totalCount"] == 2


async def test_user_items_connection(
    anon_client: GraphQLClient, alice: SignedIn, catalogue: None
) -> None:
    data = await anon_client.data(
        """query($id: ID!) { user(id: $id) {
            all: items { totalCount nodes { title } }
            cheap: items(orderBy: PRICE_ASC, first: 1) {
              totalCount nodes { title } pageInfo { hasNextPage endCursor } }
            tagged: items(tag: "light") { totalCount nodes { title } }
        } }""",
        {"id": alice.id},
    )
    user = data["user"]
    assert user["all"] == {"totalCount": 2, "nodes": [{"title": "Chair"}, {"title": "Lamp"}]}
    assert user["cheap"]["nodes"] == [{"title": "Lamp"}]
    assert user["cheap"]["totalCount"] == 2
    assert user["cheap"]["pageInfo"]["hasNextPage"] is True
    assert user["tagged"] == {"totalCount": 1, "nodes": [{"title": "Lamp"}]}
    rest = await anon_client.data(
        """query($id: ID!, $after: String) { user(id: $id) {
            items(orderBy: PRICE_ASC, after: $after) { nodes { title } } } }""",
        {"id": alice.id, "after": user["cheap"]["pageInfo"]["endCursor"]},
    )
    assert rest["user"]["items"]["nodes"] == [{"title": "Chair"}]


@pytest.mark.parametrize(
    "variables",
    [{"first": 101}, {"first": -1}, {"after": "garbage"}, {"ownerId": "nonsense"}],
)
async def test_bad_arguments_are_clear_errors(
    anon_client: GraphQLClient, catalogue: None, variables: dict[str, object]
) -> None:
    body = await anon_client.execute(ITEMS, variables)
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_cursor_from_another_order_is_refused(
    anon_client: GraphQLClient, catalogue: None
) -> None:
    page = await anon_client.data(ITEMS, {"first": 1, "orderBy": "PRICE_ASC"})
    body = await anon_client.execute(
        ITEMS, {"after": page["items"]["pageInfo"]["endCursor"], "orderBy": "TITLE_ASC"}
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "cursor" in body["errors"][0]["message"]


async def test_item_and_node_lookup(anon_client: GraphQLClient, alice: SignedIn) -> None:
    created = await alice.client.mutate(CREATE_ITEM, {"title": "Lamp", "price": "1"})
    item_id = created["item"]["id"]
    data = await anon_client.data(
        """query($id: ID!, $user: ID!) {
            item(id: $id) { id title }
            node(id: $id) { id ... on Item { title } }
            userNode: node(id: $user) { ... on User { username } }
            asUser: user(id: $id) { id }
        }""",
        {"id": item_id, "user": alice.id},
    )
    assert data["item"] == {"id": item_id, "title": "Lamp"}
    assert data["node"] == {"id": item_id, "title": "Lamp"}
    assert data["userNode"] == {"username": "alice"}
    assert data["asUser"] is None  # an Item ID is no User


async def test_ties_are_broken_by_id_across_pages(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    for n in range(5):
        await create(alice, f"Same {n}", "10")
    seen: list[str] = []
    after = None
    for _ in range(5):
        data = await anon_client.data(ITEMS, {"first": 2, "after": after, "orderBy": "PRICE_ASC"})
        seen += [n["title"] for n in data["items"]["nodes"]]
        after = data["items"]["pageInfo"]["endCursor"]
        if not data["items"]["pageInfo"]["hasNextPage"]:
            break
    assert seen == [f"Same {n}" for n in range(5)]
