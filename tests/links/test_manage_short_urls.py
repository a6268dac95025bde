"""updateShortUrl, setShortUrlActive, deleteShortUrl and myShortUrls."""

import pytest

from tests.support.client import GraphQLClient, error_codes
from tests.support.links import DELETE, SET_ACTIVE, SHORT_URL, UPDATE, shorten
from tests.support.users import SignedIn

MY_SHORT_URLS = """
query Mine($first: Int, $after: String, $tag: String, $search: String, $active: Boolean) {
  myShortUrls(first: $first, after: $after, tag: $tag, search: $search, active: $active) {
    totalCount nodes { code } pageInfo { hasNextPage endCursor }
  }
}
"""


async def codes(client: GraphQLClient, **variables: object) -> list[str]:
    data = await client.data(MY_SHORT_URLS, variables)
    return [n["code"] for n in data["myShortUrls"]["nodes"]]


async def test_update_a_subset_and_clear_with_null(alice: SignedIn) -> None:
    link = await shorten(
        alice, title="Old", tags=["a"], maxVisits=3, expiresAt="2999-01-01T00:00:00Z"
    )
    payload = await alice.client.mutate(
        UPDATE, {"code": link["code"], "title": "New", "maxVisits": None, "expiresAt": None}
    )
    updated = payload["shortUrl"]
    assert (updated["title"], updated["maxVisits"], updated["expiresAt"]) == ("New", None, None)
    assert updated["tags"] == ["a"] and updated["targetUrl"] == link["targetUrl"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"url": "javascript:alert(1)"}, [(["url"], "INVALID")]),
        ({"url": None}, [(["url"], "REQUIRED")]),
        ({"url": "http://0.0.0.0:8000/abc1234"}, [(["url"], "NOT_ALLOWED")]),
        ({"url": "http://[::]:8000/abc1234"}, [(["url"], "NOT_ALLOWED")]),
        ({"url": "http://anything.localhost:8000/"}, [(["url"], "NOT_ALLOWED")]),
        ({"url": "http://0x7f.1/"}, [(["url"], "NOT_ALLOWED")]),
        ({"redirectStatus": 200}, [(["redirectStatus"], "INVALID")]),
        ({"validSince": "2999-06-01T00:00:00Z"}, [(["expiresAt"], "INVALID")]),
    ],
)
async def test_invalid_update_changes_nothing(
    alice: SignedIn, fields: dict[str, object], expected: list[tuple[list[str], str]]
) -> None:
    link = await shorten(alice, expiresAt="2999-01-01T00:00:00Z")
    data = await alice.client.data(UPDATE, {"input": {"code": link["code"], **fields}})
    assert [(e["field"], e["code"]) for e in data["updateShortUrl"]["userErrors"]] == expected
    after = await alice.client.data(SHORT_URL, {"code": link["code"]})
    assert after["shortUrl"] == link


async def test_only_the_owner_or_an_admin_changes_a_link(
    alice: SignedIn, bob: SignedIn, admin: SignedIn
) -> None:
    link = await shorten(alice)
    for operation, input in (
        (UPDATE, {"title": "mine"}),
        (SET_ACTIVE, {"active": False}),
        (DELETE, {}),
    ):
        data = await bob.client.data(operation, {"input": {"code": link["code"], **input}})
        (payload,) = data.values()
        assert payload["userErrors"][0]["code"] == "NOT_ALLOWED"
    assert (await bob.client.data(SHORT_URL, {"code": link["code"]}))["shortUrl"] == link
    await admin.client.mutate(SET_ACTIVE, {"code": link["code"], "active": False})
    deleted = await admin.client.mutate(DELETE, {"code": link["code"]})
    assert deleted["deletedId"] == link["id"]
    assert (await alice.client.data(SHORT_URL, {"code": link["code"]}))["shortUrl"] is None


async def test_unknown_code_is_not_found(alice: SignedIn) -> None:
    data = await alice.client.data(SET_ACTIVE, {"input": {"code": "nope123", "active": True}})
    assert data["setShortUrlActive"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_my_short_urls_with_filters(alice: SignedIn, bob: SignedIn) -> None:
    await shorten(alice, "https://docs.example/a", code="docs-a", tags=["docs"])
    await shorten(alice, "https://example.com/b", code="blog-b", title="Blog post")
    await shorten(alice, "https://example.com/c", code="old-c", expiresAt="2000-01-01T00:00:00Z")
    await shorten(bob, "https://example.com/d", code="bobs-d")
    await alice.client.mutate(SET_ACTIVE, {"code": "blog-b", "active": False})
    assert await codes(alice.client) == ["old-c", "blog-b", "docs-a"]
    assert await codes(alice.client, tag="Docs") == ["docs-a"]
    assert await codes(alice.client, search="BLOG") == ["blog-b"]
    assert await codes(alice.client, search="docs.example") == ["docs-a"]
    assert await codes(alice.client, active=True) == ["docs-a"]
    assert await codes(alice.client, active=False) == ["old-c", "blog-b"]
    page = await alice.client.data(MY_SHORT_URLS, {"first": 2})
    assert page["myShortUrls"]["totalCount"] == 3
    rest = await codes(alice.client, after=page["myShortUrls"]["pageInfo"]["endCursor"])
    assert rest == ["docs-a"]


async def test_my_short_urls_needs_sign_in(anon_client: GraphQLClient) -> None:
    assert error_codes(await anon_client.execute(MY_SHORT_URLS)) == ["UNAUTHENTICATED"]


async def test_short_url_is_a_node(anon_client: GraphQLClient, alice: SignedIn) -> None:
    link = await shorten(alice)
    data = await anon_client.data(
        "query($id: ID!) { node(id: $id) { ... on ShortUrl { code } } }", {"id": link["id"]}
    )
    assert data["node"] == {"code": link["code"]}
