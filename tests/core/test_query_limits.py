"""Query limits: a document over a limit is refused, names the limit, and runs nothing."""

import json
import time
from typing import Any

import httpx
import orjson
import pytest
from graphql import get_introspection_query

from graphql_api.core.http.fast_path import FastQueries
from graphql_api.schema import build_schema
from graphql_api.state import AppState
from tests.support.client import GraphQLClient
from tests.support.databases import count_rows
from tests.support.items import CREATE_ITEM
from tests.support.settings import TEST_PASSWORD
from tests.support.users import SignedIn

ITEM_COUNT = "query { items { totalCount } }"
LIMITED = "QUERY_LIMIT_EXCEEDED"


def nested_owner_items(levels: int) -> str:
    """users -> items -> owner -> items ... : 3 levels per round, then a leaf."""
    inner = "username"
    for _ in range(levels):
        inner = f"items(first: 2) {{ nodes {{ title owner {{ {inner} }} }} }}"
    return f"query {{ users(first: 2) {{ nodes {{ {inner} }} }} }}"


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == LIMITED, error
    return error  # type: ignore[no-any-return]


async def test_depth_is_limited(alice: SignedIn) -> None:
    # users(1) nodes(2) + 3 per round + username: 3 rounds = 12 levels, 4 = 15.
    assert "errors" not in await alice.client.execute(nested_owner_items(3))
    error = refusal(await alice.client.execute(nested_owner_items(4)))
    assert error["extensions"]["limit"] == "depth"
    assert error["message"] == "The query is 15 levels deep; at most 12 are allowed."


async def test_a_refused_mutation_changes_nothing(alice: SignedIn) -> None:
    too_deep = CREATE_ITEM.replace("item {", "item { " + "owner { items { nodes { " * 4, 1)
    too_deep = too_deep.replace("userErrors", "} } } " * 4 + " userErrors", 1)
    body = await alice.client.execute(
        too_deep, {"input": {"title": "never", "price": "1.00", "tax": "0.00"}}
    )
    assert refusal(body)["extensions"]["limit"] == "depth"
    assert (await alice.client.data(ITEM_COUNT))["items"]["totalCount"] == 0


def aliased(count: int) -> str:
    return "query { " + " ".join(f"a{n}: me {{ id }}" for n in range(count)) + " }"


async def test_aliases_are_limited(alice: SignedIn) -> None:
    assert "errors" not in await alice.client.execute(aliased(30))
    for count in (31, 300):  # 300 stays under the token limit
        error = refusal(await alice.client.execute(aliased(count)))
        assert error["extensions"] == {"code": LIMITED, "limit": "aliases", "maximum": 30}


async def test_directives_are_limited(alice: SignedIn) -> None:
    many = "query { me { id " + "@include(if: true) " * 31 + "} }"
    assert refusal(await alice.client.execute(many))["extensions"]["limit"] == "directives"


async def test_tokens_are_limited(alice: SignedIn) -> None:
    body = await alice.client.execute("query { me { " + "id " * 3000 + "} }")
    assert body["data"] is None
    assert "more than 2000 tokens" in body["errors"][0]["message"]


USERS_ITEMS = """query($users: Int, $items: Int) {
  users(first: $users) { nodes { items(first: $items) { nodes { title price } } } } }"""


@pytest.mark.parametrize(
    ("users", "items", "allowed"),
    [(20, 5, True), (100, 20, True), (100, 100, False), (None, 100, True), (100, None, True)],
)
async def test_cost_is_priced_from_the_page_sizes_asked_for(
    alice: SignedIn, users: int | None, items: int | None, allowed: bool
) -> None:
    body = await alice.client.execute(USERS_ITEMS, {"users": users, "items": items})
    if allowed:
        assert "errors" not in body, body
    else:
        error = refusal(body)
        assert error["extensions"] == {"code": LIMITED, "limit": "cost", "maximum": 5000}


async def test_literal_page_sizes_count_too(alice: SignedIn) -> None:
    query = "query { users(first: 100) { nodes { items(first: 100) { nodes { title } } } } }"
    assert refusal(await alice.client.execute(query))["extensions"]["limit"] == "cost"


async def test_an_exponential_fragment_bomb_is_refused_quickly(alice: SignedIn) -> None:
    fragments = ["fragment F0 on User { id username }"]
    for n in range(1, 40):
        fragments.append(
            f"fragment F{n} on User {{ ...F{n - 1} items {{ nodes {{ title }} }} ...F{n - 1} }}"
        )
    document = "query { me { ...F39 } } " + " ".join(fragments)
    started = time.perf_counter()
    error = refusal(await alice.client.execute(document))
    assert time.perf_counter() - started < 2
    assert error["extensions"]["limit"] in ("cost", "depth")


async def test_circular_fragments_are_a_validation_error(alice: SignedIn) -> None:
    body = await alice.client.execute(
        "query { me { ...A } } fragment A on User { ...B } fragment B on User { ...A }"
    )
    assert body["data"] is None
    assert "Cannot spread fragment" in body["errors"][0]["message"]


async def test_graphiqls_introspection_query_still_works_in_development(
    anon_client: GraphQLClient,
) -> None:
    body = await anon_client.execute(get_introspection_query(descriptions=True))
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_suggestions_are_given_in_development(anon_client: GraphQLClient) -> None:
    # The production profile hides them: tests/e2e/test_production_profile.py.
    for query, variables in (
        ("query { itemz { totalCount } }", None),
        ("query { items(orderBy: TITLE_ASCC) { totalCount } }", None),
        ("query($o: ItemOrder) { items(orderBy: $o) { totalCount } }", {"o": "TITLE_ASCC"}),
    ):
        body = await anon_client.execute(query, variables)
        assert body["data"] is None
        assert "Did you mean" in body["errors"][0]["message"], body


@pytest.mark.parametrize("literal", ["9" * 5000, "1." + "5" * 200, "1e" + "9" * 200])
async def test_absurdly_long_number_literals_are_refused(alice: SignedIn, literal: str) -> None:
    body = await alice.client.execute(f"query {{ items(first: {literal}) {{ totalCount }} }}")
    assert refusal(body)["extensions"]["limit"] == "numberLength"


async def test_subscriptions_are_limited_too(services: AppState) -> None:
    # chatEvents, message, author: 3 levels; then 3 per round (items, nodes, owner); id.
    inner = "id"
    for _ in range(3):
        inner = f"items(first: 2) {{ nodes {{ owner {{ {inner} }} }} }}"
    document = (
        'subscription { chatEvents(room: "general") '
        f"{{ ... on MessageSent {{ message {{ author {{ {inner} }} }} }} }} }}"
    )
    events = await build_schema(services.settings).subscribe(document)
    first = await anext(events)
    assert first.errors is not None
    assert first.errors[0].message == "The query is 13 levels deep; at most 12 are allowed."


async def test_a_doubling_fragment_chain_is_refused_quickly(alice: SignedIn) -> None:
    # Each fragment spreads the one before twice: 2^40 __typename fields once expanded.
    fragments = ["fragment F0 on Query { __typename }"]
    fragments += [f"fragment F{n} on Query {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, 41)]
    started = time.perf_counter()
    body = await alice.client.execute("query { ...F40 } " + " ".join(fragments))
    assert time.perf_counter() - started < 2
    assert refusal(body)["extensions"]["limit"] == "cost"


async def test_a_variables_default_page_size_is_priced(alice: SignedIn) -> None:
    query = """query($n: Int = 100) {
      users(first: $n) { nodes { items(first: $n) { nodes { title } } } } }"""
    assert refusal(await alice.client.execute(query, {}))["extensions"]["limit"] == "cost"
    assert "errors" not in await alice.client.execute(query, {"n": 10})


def registers(count: int) -> str:
    return (
        "mutation { "
        + " ".join(
            f'r{n}: register(input: {{email: "sybil{n}@example.com", username: "sybil{n}", '
            f'password: "{TEST_PASSWORD}"}}) {{ accessToken }}'
            for n in range(count)
        )
        + " }"
    )


async def test_aliased_registers_are_refused_and_create_no_account(
    anon_client: GraphQLClient, services: AppState
) -> None:
    # 30 aliases pass the alias limit: the expensive-mutation limit is what refuses them.
    error = refusal(await anon_client.execute(registers(30)))
    assert error["extensions"] == {"code": LIMITED, "limit": "expensiveMutations", "maximum": 1}
    assert error["message"] == (
        "The operation holds 30 expensive mutations (register); at most 1 may run in one "
        "operation: send the others in requests of their own."
    )
    assert await count_rows(services.engine, "users") == 0
    assert "errors" not in await anon_client.execute(registers(1))
    assert await count_rows(services.engine, "users") == 1


LOGIN_CAROL = 'login(input: {login: "carol", password: "pw pw pw pw"}) { accessToken }'
CHANGE_PASSWORD = (
    'changePassword(input: {currentPassword: "a", newPassword: "b"}) { userErrors { code } }'
)


@pytest.mark.parametrize(
    "document",
    [
        f"mutation {{ a: {LOGIN_CAROL} b: {LOGIN_CAROL} }}",
        f"mutation {{ {LOGIN_CAROL} {CHANGE_PASSWORD} }}",
        # Fragments and inline fragments on the root are counted as if written out.
        f"mutation {{ ...Twice }} fragment Twice on Mutation {{ a: {LOGIN_CAROL} ...Once }} "
        f"fragment Once on Mutation {{ ... on Mutation {{ {CHANGE_PASSWORD} }} }}",
        # Under @skip too: the limit does not depend on the variables.
        f"mutation($no: Boolean!) {{ a: {LOGIN_CAROL} "
        'b: login(input: {login: "carol", password: "x"}) @skip(if: $no) { accessToken } }',
    ],
)
async def test_every_expensive_mutation_counts(alice: SignedIn, document: str) -> None:
    for _ in range(2):  # the second time from the document cache
        error = refusal(await alice.client.execute(document, {"no": True}))
        assert error["extensions"]["limit"] == "expensiveMutations"


async def test_one_expensive_mutation_goes_with_cheap_ones(alice: SignedIn) -> None:
    body = await alice.client.execute(
        f'mutation {{ {CHANGE_PASSWORD} logout(input: {{refreshToken: "x"}}) {{ ok }} '
        'a: createItem(input: {title: "t", price: "1"}) { item { id } } '
        'b: createItem(input: {title: "u", price: "1"}) { item { id } } }'
    )
    assert "errors" not in body, body
    # Each operation is counted alone: the one that runs here holds one.
    two_operations = f"mutation A {{ {LOGIN_CAROL} }} mutation B {{ {LOGIN_CAROL} }}"
    response = await alice.client.http.post(
        "/graphql", json={"query": two_operations, "operationName": "B"}
    )
    assert "errors" not in response.json(), response.json()


async def test_aliased_imports_are_refused_and_create_nothing(alice: SignedIn) -> None:
    both = (
        "mutation($a: ImportShortUrlsInput!, $b: ImportShortUrlsInput!) { "
        "a: importShortUrls(input: $a) { userErrors { code } } "
        "b: importShortUrls(input: $b) { userErrors { code } } }"
    )
    operations = {"query": both, "variables": {"a": {"file": None}, "b": {"file": None}}}
    response = await alice.client.http.post(
        "/graphql",
        data={
            "operations": orjson.dumps(operations).decode(),
            "map": orjson.dumps({"0": ["variables.a.file", "variables.b.file"]}).decode(),
        },
        files={"0": ("links.csv", b"url\nhttps://example.com/1\n", "text/csv")},
        headers={"Authorization": f"Bearer {alice.client.token}", "GraphQL-Require-Preflight": "1"},
    )
    error = refusal(response.json())
    assert error["extensions"]["limit"] == "expensiveMutations"
    assert "(importShortUrls)" in error["message"]
    mine = await alice.client.data("{ myShortUrls { totalCount } }")
    assert mine["myShortUrls"]["totalCount"] == 0


# The query: three nested pages of `$n`, 1 by default.
COST = (
    "query Cost($n: Int = 1) { items(first: $n) { nodes { owner { items(first: $n) "
    "{ nodes { owner { items(first: $n) { nodes { id } } } } } } } } }"
)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("variables", "page"),
    [
        pytest.param({"n": None}, None, id="null"),  # the resolvers' default, 20: refused
        pytest.param({"n": 2.0}, 2, id="2.0"),  # coerces to 2
        pytest.param({"n": 100.0}, None, id="100.0"),  # coerces to 100: refused
        pytest.param({"n": 2}, 2, id="2"),
    ],
)
async def test_variables_are_priced_as_they_will_run_seen_before_or_not(
    http: httpx.AsyncClient,
    fast: FastQueries,
    alice: SignedIn,
    method: str,
    variables: dict[str, Any],
    page: int | None,
) -> None:
    for n in range(3):
        await alice.client.mutate(CREATE_ITEM, {"title": f"t{n}", "price": "1.00"})

    async def send(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if method == "GET":
            params = {"query": query, "variables": json.dumps(variables)}
            response = await http.get("/graphql", params=params)
        else:
            response = await http.post("/graphql", json={"query": query, "variables": variables})
        return response.json()  # type: ignore[no-any-return]

    fresh = await send(COST + " # never seen", variables)
    for _ in range(2):  # the whole way, then the fast path, with the price for n = 1
        answered = fast.answered
        assert "errors" not in await send(COST, {})
    assert fast.answered == answered + 1
    answered = fast.answered
    seen = await send(COST, variables)
    assert seen == fresh
    if page is None:
        assert refusal(seen)["extensions"]["limit"] == "cost"
        assert fast.answered == answered
    else:
        nodes = seen["data"]["items"]["nodes"]
        assert len(nodes) == page
        assert len(nodes[0]["owner"]["items"]["nodes"][0]["owner"]["items"]["nodes"]) == page
        assert fast.answered == answered + 1
