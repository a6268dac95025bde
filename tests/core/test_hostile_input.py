"""Bad input gets a clear error and changes nothing: never a 500, never a masked error."""

import base64

import orjson
import pytest

from tests.support.client import GraphQLClient, error_codes
from tests.support.items import CREATE_ITEM
from tests.support.users import SignedIn

ITEMS_AFTER = (
    "query($after: String, $o: ItemOrder) { items(after: $after, orderBy: $o) { totalCount } }"
)


def cursor(*values: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode()


def global_id(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"1",
        b'"x"',
        b"true",
        b"{",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"query": 5}',
        b'{"query": "{ me { id } }", "variables": 3}',
    ],
)
async def test_malformed_bodies_are_400(anon_client: GraphQLClient, body: bytes) -> None:
    response = await anon_client.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("value", ["a\x00b", "\ud800"])
async def test_unstorable_strings_in_variables_are_400(
    anon_client: GraphQLClient, value: str
) -> None:
    raw = orjson.dumps({"query": "query($s: String) { items(search: $s) { totalCount } }"})
    escaped = value.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
    variables = '{"s": "' + "".join(f"\\u{ord(c):04x}" for c in escaped) + '"}'
    body = raw[:-1] + b', "variables": ' + variables.encode() + b"}"
    response = await anon_client.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("literal", ["a\\u0000b", "\\ud800"])
async def test_unstorable_string_literals_are_refused(
    anon_client: GraphQLClient, literal: str
) -> None:
    body = await anon_client.execute(f'{{ items(search: "{literal}") {{ totalCount }} }}')
    assert "NUL" in body["errors"][0]["message"] or "Unicode" in body["errors"][0]["message"]
    assert "data" not in body or body["data"] is None


@pytest.mark.parametrize(
    "after",
    [
        cursor("p+", "NaN", 1),
        cursor("p+", "Infinity", 1),
        cursor("p+", "1e400", 1),
        cursor("p+", "abc", 1),
        cursor("p+", "0.001", 1),
        cursor("p+", "1", 2**63),
        cursor("p+", "1", -1),
        cursor("p+", 1, 1),
        cursor("p+"),
        "%%%",
        cursor("c-", 5, 1),
    ],
)
async def test_hostile_price_cursors_are_bad_user_input(
    anon_client: GraphQLClient, after: str
) -> None:
    body = await anon_client.execute(ITEMS_AFTER, {"after": after, "o": "PRICE_ASC"})
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2020-01-01T00:00:00"]
)
async def test_hostile_date_cursors_are_bad_user_input(
    anon_client: GraphQLClient, moment: str
) -> None:
    body = await anon_client.execute(ITEMS_AFTER, {"after": cursor("c-", moment, 1)})
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "text",
    [
        "User:99999999999999999999",
        "User:9223372036854775808",
        "User:0",
        "User:-1",
        "User:1e3",
        ":1",
        "User:",
    ],
)
async def test_ids_out_of_range_are_refused(alice: SignedIn, text: str) -> None:
    body = await alice.client.execute(
        "query($id: ID!) { node(id: $id) { id } }", {"id": global_id(text)}
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    deleted = await alice.client.data(
        "mutation($id: ID!) { deleteItem(input: {id: $id}) { userErrors { code } } }",
        {"id": global_id(text)},
    )
    assert deleted["deleteItem"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_long_search_is_refused(alice: SignedIn) -> None:
    body = await alice.client.execute(
        "query($s: String) { items(search: $s) { totalCount } users(search: $s) { totalCount } }",
        {"s": "x" * 50_000},
    )
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}


async def test_control_characters_in_titles_are_user_errors(alice: SignedIn) -> None:
    data = await alice.client.data(CREATE_ITEM, {"input": {"title": "bell\x07", "price": "1"}})
    assert data["createItem"]["userErrors"][0]["field"] == ["title"]
    multiline = await alice.client.mutate(
        CREATE_ITEM, {"title": "ok", "price": "1", "description": "line 1\nline 2\ttab"}
    )
    assert multiline["item"]["description"] == "line 1\nline 2\ttab"


async def test_mutations_in_one_document_see_each_other(alice: SignedIn) -> None:
    created = await alice.client.mutate(CREATE_ITEM, {"title": "Lamp", "price": "1", "tags": ["a"]})
    data = await alice.client.data(
        """mutation($id: ID!) {
            first: updateItem(input: {id: $id, tags: ["b"]}) { item { tags } }
            second: updateItem(input: {id: $id, tags: ["c"]}) { item { tags } }
            me: updateMe(input: {username: "alicia"}) { user { username } }
            later: createItem(input: {title: "x", price: "1"}) { item { owner { username } } }
        }""",
        {"id": created["item"]["id"]},
    )
    assert data["first"]["item"]["tags"] == ["b"]
    assert data["second"]["item"]["tags"] == ["c"]
    assert data["later"]["item"]["owner"]["username"] == "alicia"


async def test_mutation_after_deleting_yourself_is_unauthenticated(alice: SignedIn) -> None:
    body = await alice.client.execute(
        """mutation($id: ID!) {
            deleteUser(input: {id: $id}) { deletedId }
            createItem(input: {title: "x", price: "1"}) { item { id } }
        }""",
        {"id": alice.id},
    )
    # The failed non-null createItem nulls the whole data, as GraphQL requires.
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["path"] == ["createItem"]
    lookup = await GraphQLClient(alice.client.http).data(
        "query($id: ID!) { user(id: $id) { id } items { totalCount } }", {"id": alice.id}
    )
    assert lookup == {"user": None, "items": {"totalCount": 0}}
