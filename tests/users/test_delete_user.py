import uuid
from pathlib import Path

import httpx

from graphql_api.state import AppState
from tests.support.client import GraphQLClient, error_codes
from tests.support.items import CREATE_ITEM
from tests.support.links import BROWSER, shorten
from tests.support.ratelimit import client_at, limited_app
from tests.support.redis import REDIS_URL, redis_reachable
from tests.support.users import DELETE_USER, SignedIn, sign_up
from tests.support.wait import eventually


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


async def redirect_status(http: httpx.AsyncClient, code: str) -> int:
    return (await http.get(f"/{code}", headers={"User-Agent": BROWSER})).status_code


async def test_a_deleted_users_links_stop_at_once(
    http: httpx.AsyncClient, alice: SignedIn, bob: SignedIn
) -> None:
    codes = [(await shorten(alice))["code"] for _ in range(3)]
    kept = (await shorten(bob))["code"]
    for code in [*codes, kept]:
        assert await redirect_status(http, code) == 302  # cached now
    await alice.client.mutate(DELETE_USER, {"id": alice.id})
    assert [await redirect_status(http, code) for code in codes] == [404, 404, 404]
    assert await redirect_status(http, kept) == 302


async def statuses_become(http: httpx.AsyncClient, codes: list[str], expected: int) -> None:
    """Wait until each of the codes redirects with `expected`."""
    await eventually(
        lambda: statuses(http, codes),
        lambda found: found == [expected] * len(codes),
        within=2,
        what=f"every link answering {expected}",
    )


async def statuses(http: httpx.AsyncClient, codes: list[str]) -> list[int]:
    return [await redirect_status(http, code) for code in codes]


async def test_a_deleted_users_links_stop_in_every_app_instance(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    await redis_reachable()
    shared = {"broker_url": REDIS_URL, "redis_prefix": f"test-{uuid.uuid4().hex}:"}
    async with (
        limited_app(database_url, tmp_path, **shared) as first_app,
        limited_app(database_url, tmp_path, **shared) as second_app,
        client_at(first_app) as first,
        client_at(second_app) as second,
    ):
        carol = await sign_up(first, "carol")
        codes = [(await shorten(carol))["code"] for _ in range(3)]
        await statuses_become(second, codes, 302)  # cached there
        await carol.client.mutate(DELETE_USER, {"id": carol.id})
        # The cache would keep them for a minute (GRAPHQL_API_LINK_CACHE_SECONDS).
        await statuses_become(second, codes, 404)
