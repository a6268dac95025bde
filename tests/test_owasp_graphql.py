"""One test per item of the OWASP GraphQL Cheat Sheet that applies to this server.

https://cheatsheetseries.owasp.org/cheatsheets/GraphQL_Cheat_Sheet.html, sections
"Input Validation", "DoS Prevention", "Access Control", "Batching Attacks" and
"Secure Configurations". (Process validation does not apply: no resolver runs a
program.) Tests elsewhere go deeper; these show each defence holds.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from graphql import get_introspection_query
from sqlalchemy import text

from graphql_api.app import create_app
from graphql_api.state import AppState
from tests.support.client import GraphQLClient, error_codes
from tests.support.databases import StatementLog
from tests.support.items import CREATE_ITEM, UPDATE_ITEM, make_item
from tests.support.settings import settings_for_tests
from tests.support.users import SignedIn

LIMITED = "QUERY_LIMIT_EXCEEDED"
ITEMS = "query($s: String) { items(search: $s) { nodes { title } } }"
LOGIN = (
    """mutation($input: LoginInput!) { login(input: $input) { accessToken userErrors { code } } }"""
)


def refused_limit(body: dict) -> str:  # type: ignore[type-arg]
    assert body["data"] is None, body
    assert error_codes(body) == [LIMITED], body
    return body["errors"][0]["extensions"]["limit"]  # type: ignore[no-any-return]


# Input validation


async def test_input_validation_refuses_bad_values_and_changes_nothing(alice: SignedIn) -> None:
    body = await alice.client.data(
        CREATE_ITEM, {"input": {"title": " ", "price": "-1", "tax": "0", "tags": ["x" * 500]}}
    )
    payload = body["createItem"]
    assert payload["item"] is None
    assert {e["field"][0] for e in payload["userErrors"]} >= {"title", "price", "tags"}
    assert (await alice.client.data("query { items { totalCount } }"))["items"]["totalCount"] == 0


async def test_injection_strings_are_plain_data(alice: SignedIn) -> None:
    hostile = "x' OR '1'='1'; DROP TABLE items; --"
    await make_item(alice)
    payload = await alice.client.mutate(CREATE_ITEM, {"title": hostile, "price": "1", "tax": "0"})
    assert payload["item"]["title"] == hostile  # stored verbatim, as a value
    for search, found in ((hostile, [hostile]), ("' OR 1=1 --", []), ("%", []), ("_", [])):
        result = await alice.client.data(ITEMS, {"s": search})
        assert [n["title"] for n in result["items"]["nodes"]] == found, search


# DoS prevention


async def test_query_depth_is_limited(alice: SignedIn) -> None:
    deep = "query { me { " + "items(first: 1) { nodes { owner { " * 5 + "id" + " } } }" * 5 + " } }"
    assert refused_limit(await alice.client.execute(deep)) == "depth"


async def test_amount_is_limited(alice: SignedIn) -> None:
    body = await alice.client.execute("query { items(first: 101) { totalCount } }")
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_query_cost_is_analysed_before_execution(alice: SignedIn) -> None:
    query = "query { users(first: 100) { nodes { items(first: 100) { nodes { title } } } } }"
    assert refused_limit(await alice.client.execute(query)) == "cost"


async def test_database_work_is_bounded_in_time(services: AppState) -> None:
    async with services.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            timeout = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
            assert timeout == "15s"
        else:  # SQLite runs in the process; what it bounds is the wait for the write lock
            busy = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
            assert busy == 30000


async def test_batched_loading_keeps_statements_constant(
    alice: SignedIn, bob: SignedIn, sql_statements: StatementLog
) -> None:
    for owner in (alice, bob):
        await make_item(owner)
    sql_statements.clear()
    await alice.client.data("query { items(first: 50) { nodes { owner { username } } } }")
    # The page of items, and their owners in one statement.
    assert sql_statements.count == 2, sql_statements.statements


# Access control


async def test_fields_are_authorised(alice: SignedIn, bob: SignedIn) -> None:
    query = "query($id: ID!) { user(id: $id) { username email } }"
    seen = await bob.client.data(query, {"id": alice.id})
    assert seen["user"] == {"username": "alice", "email": None}
    own = await alice.client.data(query, {"id": alice.id})
    assert own["user"]["email"] == "alice@example.com"


async def test_objects_are_authorised_through_node_too(alice: SignedIn, bob: SignedIn) -> None:
    code = (
        await alice.client.mutate(
            "mutation($input: ShortenUrlInput!) { shortenUrl(input: $input) "
            "{ shortUrl { id visits { totalCount } } userErrors { code } } }",
            {"url": "https://example.com/private"},
        )
    )["shortUrl"]
    node = "query($id: ID!) { node(id: $id) { ... on ShortUrl { visits { totalCount } } } }"
    body = await bob.client.execute(node, {"id": code["id"]})
    assert body["data"]["node"] in (None, {"visits": None})


async def test_mutations_are_authorised(
    anon_client: GraphQLClient, alice: SignedIn, bob: SignedIn
) -> None:
    item = await make_item(alice)
    body = await bob.client.data(UPDATE_ITEM, {"input": {"id": item["id"], "title": "Mine now"}})
    assert body["updateItem"]["item"] is None
    assert [e["code"] for e in body["updateItem"]["userErrors"]] == ["NOT_ALLOWED"]
    anonymous = await anon_client.execute(CREATE_ITEM, {"input": {"title": "x", "price": "1"}})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


# Batching attacks


async def test_aliases_cannot_multiply_an_operation(alice: SignedIn) -> None:
    aliases = " ".join(
        f'a{n}: login(input: {{login: "alice", password: "guess{n}"}}) {{ accessToken }}'
        for n in range(100)
    )
    assert refused_limit(await alice.client.execute(f"mutation {{ {aliases} }}")) == "aliases"


async def test_array_batches_are_refused(anon_client: GraphQLClient) -> None:
    operation = {"query": LOGIN, "variables": {"input": {"login": "a", "password": "b"}}}
    response = await anon_client.http.post("/graphql", json=[operation] * 10)
    assert 400 <= response.status_code < 500


async def test_directives_cannot_be_overloaded(alice: SignedIn) -> None:
    many = "query { me { id " + "@include(if: true) " * 200 + "} }"
    assert refused_limit(await alice.client.execute(many)) == "directives"


# Secure configurations


@pytest.fixture
async def production(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for_tests(database_url, tmp_path, env="production"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_introspection_is_off_in_production(production: httpx.AsyncClient) -> None:
    body = (await production.post("/graphql", json={"query": get_introspection_query()})).json()
    assert body.get("data") is None
    assert "introspection" in body["errors"][0]["message"].lower()


async def test_graphiql_is_off_in_production(production: httpx.AsyncClient) -> None:
    page = await production.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in page.text.lower()


async def test_errors_are_not_excessive_in_production(production: httpx.AsyncClient) -> None:
    body = (await production.post("/graphql", json={"query": "{ itemz { id } }"})).json()
    assert body["errors"][0]["message"] == "Cannot query field 'itemz' on type 'Query'."
    assert set(body["errors"][0]) <= {"message", "locations", "extensions"}  # no stack


async def test_aliases_cannot_multiply_an_expensive_mutation_in_production(
    production: httpx.AsyncClient,
) -> None:
    # Under the alias limit, but each would be an argon2 hash.
    aliases = " ".join(
        f'a{n}: login(input: {{login: "alice", password: "guess{n}"}}) {{ accessToken }}'
        for n in range(10)
    )
    body = (await production.post("/graphql", json={"query": f"mutation {{ {aliases} }}"})).json()
    assert refused_limit(body) == "expensiveMutations"
