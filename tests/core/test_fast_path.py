"""The fast path (`core.http.fast_path`): queries seen before, answered as the whole way would.

Every test sends a request twice or more: the first takes the whole way (router,
Strawberry's view, parsing, validation, limits), later ones may take the fast path.
Answers must be the same bytes; whatever the fast path cannot answer exactly (errors,
refusals, mutations) must get the whole way's answer, and be executed once.
"""

import gc
import logging
from typing import Any

import httpx
import orjson
import pytest

from graphql_api.core.graphql.context import Context
from graphql_api.core.http.fast_path import FastQueries
from graphql_api.schema import build_schema
from graphql_api.state import AppState
from tests.support.client import error_codes, post
from tests.support.users import SignedIn

ITEMS = """
query Items($n: Int) {
  items(first: $n) { nodes { id title price owner { username } } pageInfo { hasNextPage } }
}
"""
ME = "query Me { me { username email } }"
CREATE_ITEM = """
mutation CreateItem($input: CreateItemInput!) {
  createItem(input: $input) { item { id } userErrors { code } }
}
"""


async def create_items(who: SignedIn, count: int) -> None:
    for n in range(count):
        await who.client.mutate(CREATE_ITEM, {"title": f"Item {n}", "price": f"{n + 1}.50"})


async def test_a_query_seen_before_is_answered_fast_with_the_same_bytes(
    http: httpx.AsyncClient, fast: FastQueries, alice: SignedIn
) -> None:
    await create_items(alice, 3)
    whole = await post(http, ITEMS, {"n": 2})
    before = fast.answered
    again = await post(http, ITEMS, {"n": 2}, **{"X-Request-ID": "fast-1"})
    assert fast.answered == before + 1
    assert again.status_code == whole.status_code == 200
    assert again.content == whole.content
    assert again.headers["content-type"] == whole.headers["content-type"] == "application/json"
    # The middlewares outside still see it: request id, security headers.
    assert again.headers["x-request-id"] == "fast-1"
    assert again.headers["x-content-type-options"] == "nosniff"
    # The variables are this request's: a page of 3 is not the page of 2 seen before.
    three = await post(http, ITEMS, {"n": 3})
    assert fast.answered == before + 2
    assert len(three.json()["data"]["items"]["nodes"]) == 3


async def test_the_viewer_is_this_requests(
    http: httpx.AsyncClient, fast: FastQueries, alice: SignedIn, bob: SignedIn
) -> None:
    mine = await post(http, ME, Authorization=f"Bearer {alice.client.token}")
    before = fast.answered
    theirs = await post(http, ME, Authorization=f"Bearer {bob.client.token}")
    anonymous = await post(http, ME)
    assert fast.answered == before + 2
    assert mine.json() == {"data": {"me": {"username": "alice", "email": "alice@example.com"}}}
    assert theirs.json() == {"data": {"me": {"username": "bob", "email": "bob@example.com"}}}
    assert anonymous.json() == {"data": {"me": None}}


async def test_errors_and_refusals_get_the_whole_ways_answer(
    http: httpx.AsyncClient, fast: FastQueries, alice: SignedIn
) -> None:
    await post(http, ITEMS, {"n": 1})
    before = fast.answered
    # A bad token, variables that do not coerce, a page over the limit, a NUL.
    forged = await post(http, ME, Authorization="Bearer forged")
    assert error_codes(forged.json()) == ["UNAUTHENTICATED"]
    wrong_type = await post(http, ITEMS, {"n": "two"})
    assert wrong_type.json()["errors"][0]["message"].startswith("Variable '$n'")
    too_many = await post(http, ITEMS, {"n": 101})
    assert too_many.json()["data"] is None
    assert "between 0 and 100" in too_many.json()["errors"][0]["message"]
    nul = await http.post("/graphql", json={"query": ITEMS, "variables": {"n": 1, "x": "a\x00b"}})
    assert nul.status_code == 400
    assert fast.answered == before


async def test_cost_is_priced_with_this_requests_variables(
    http: httpx.AsyncClient, fast: FastQueries, alice: SignedIn
) -> None:
    nested = (
        "query Nested($n: Int) { users(first: $n) { nodes { items(first: $n) { nodes { id } } } } }"
    )
    assert (
        "errors"
        not in (
            await post(http, nested, {"n": 5}, Authorization=f"Bearer {alice.client.token}")
        ).json()
    )
    before = fast.answered
    costly = await post(http, nested, {"n": 100}, Authorization=f"Bearer {alice.client.token}")
    assert error_codes(costly.json()) == ["QUERY_LIMIT_EXCEEDED"]
    assert fast.answered == before


async def test_mutations_take_the_whole_way_and_run_once(
    http: httpx.AsyncClient, fast: FastQueries, alice: SignedIn
) -> None:
    before = fast.answered
    await create_items(alice, 2)
    assert fast.answered == before
    count = await post(http, "query CountAfterMutations { items { totalCount } }")
    count = await post(http, "query CountAfterMutations { items { totalCount } }")
    assert count.json() == {"data": {"items": {"totalCount": 2}}}
    assert fast.answered == before + 1


async def test_the_response_media_type_is_negotiated_alike(
    http: httpx.AsyncClient, fast: FastQueries
) -> None:
    accept = {"Accept": "application/graphql-response+json"}
    whole = await post(http, "query Plain { items { totalCount } }", **accept)
    before = fast.answered
    again = await post(http, "query Plain { items { totalCount } }", **accept)
    assert fast.answered == before + 1
    assert again.headers["content-type"] == whole.headers["content-type"]
    assert again.headers["content-type"] == "application/graphql-response+json"
    assert again.content == whole.content


async def test_a_request_is_freed_when_it_ends_not_by_the_cycle_collector(
    http: httpx.AsyncClient, fast: FastQueries, alice: SignedIn
) -> None:
    # A cycle through the executor kept every request's context, loaders and records
    # for a full collection: a fifth of the CPU of a page of users under load.
    await create_items(alice, 3)
    before = fast.answered
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):  # the whole way first, then the fast path
            response = await post(
                http, ITEMS, {"n": 3}, Authorization=f"Bearer {alice.client.token}"
            )
            assert "errors" not in response.json()
        alive = [o for o in gc.get_objects() if isinstance(o, Context)]
    finally:
        gc.enable()
    assert fast.answered > before
    assert alive == []


INCLUDED = "query Counted($b: Boolean = true) { items { totalCount @include(if: $b) } }"
# The fragment's directive is read when the plan first meets a User, while it runs.
NODE = """query Node($id: ID!, $b: Boolean = true) {
  node(id: $id) { id ... on User @include(if: $b) { username } } }"""
# Deeper than a recursive walk can go (two frames a level, 1,000 at most).
NESTED: Any = None
for _ in range(600):
    NESTED = [NESTED]


@pytest.mark.parametrize(
    ("query", "seen", "wrong"),
    [
        pytest.param(INCLUDED, {}, {"b": None}, id="null-directive"),
        pytest.param(NODE, {}, {"b": None}, id="null-directive-in-a-fragment"),
        pytest.param(INCLUDED, {}, {"b": "yes"}, id="string-for-boolean"),
        pytest.param(ITEMS, {"n": 1}, {"n": 2.5}, id="fraction-for-int"),
        pytest.param(ITEMS, {"n": 1}, {"n": [1]}, id="list-for-int"),
        pytest.param(ITEMS, {"n": 1}, {"n": {"first": 1}}, id="object-for-int"),
        pytest.param(ITEMS, {"n": 1}, {"n": 1, "unused": NESTED}, id="deeply-nested"),
        pytest.param(
            CREATE_ITEM,
            {"input": {"title": "a", "price": "1.00"}},
            {"input": [{"title": "a", "price": "1.00"}]},
            id="list-for-object",
        ),
    ],
)
async def test_a_clients_mistakes_are_answered_as_graphql_core_would_and_not_logged(
    http: httpx.AsyncClient,
    services: AppState,
    alice: SignedIn,
    caplog: pytest.LogCaptureFixture,
    query: str,
    seen: dict[str, Any],
    wrong: dict[str, Any],
) -> None:
    token = alice.client.token
    seen = {"id": alice.id, **seen} if "$id" in query else seen
    wrong = {"id": alice.id, **wrong} if "$id" in query else wrong
    for _ in range(2):  # the whole way, then the fast path: both have its document and plan
        assert (
            "errors" not in (await post(http, query, seen, Authorization=f"Bearer {token}")).json()
        )
    with caplog.at_level(logging.INFO):
        answer = await post(http, query, wrong, Authorization=f"Bearer {token}")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    reference = build_schema(services.settings.model_copy(update={"document_cache_size": 0}))
    context = Context(services, token=token, request_id="reference")
    result = await reference.execute(query, wrong, context_value=context)
    expected: dict[str, Any] = {"data": result.data}
    if result.errors:
        expected["errors"] = [e.formatted for e in result.errors]
    assert answer.json() == expected


async def test_a_fault_of_the_fast_path_is_logged_and_answered_the_whole_way(
    http: httpx.AsyncClient,
    fast: FastQueries,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(accept: str | None) -> str:
        raise RuntimeError("a bug")

    whole = await post(http, "query Plain { items { totalCount } }")
    monkeypatch.setattr("graphql_api.core.http.fast_path.negotiated", broken)
    before = fast.answered
    with caplog.at_level(logging.ERROR):
        again = await post(http, "query Plain { items { totalCount } }")
    assert fast.answered == before
    assert again.content == whole.content
    (record,) = caplog.records
    assert record.getMessage() == "the fast path failed; answering the whole way"


async def test_a_document_refused_by_validation_keeps_no_request_alive(
    http: httpx.AsyncClient,
) -> None:
    # Its errors are kept with the document; a traceback among them (the KeyError behind
    # an unknown enum value, say) kept the frames of the request that found them, and
    # with them its context, loaders and records.
    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, Context)}
    refused = await post(http, "query Kept { items(orderBy: TITLE_ASCC) { totalCount } }")
    assert "Did you mean" in refused.json()["errors"][0]["message"]
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, Context) and id(o) not in before] == []


# Issue 16's divergences: bodies the fast path answered that the whole way refuses.
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("variables", [], "`variables` must be an object or null"),
        ("variables", 0, "`variables` must be an object or null"),
        ("variables", False, "`variables` must be an object or null"),
        ("extensions", "x", "`extensions` must be an object or null"),
        ("extensions", {"a": "x\x00"}, "Strings must not contain NUL characters."),
        ("operationName", 0, "`operationName` must be a string or null"),
    ],
)
async def test_a_body_the_whole_way_refuses_is_refused_for_a_query_seen_before(
    http: httpx.AsyncClient, fast: FastQueries, field: str, value: Any, message: str
) -> None:
    query = "query Seen { items { totalCount } }"
    for _ in range(2):  # the whole way, then the fast path
        assert (await post(http, query)).json() == {"data": {"items": {"totalCount": 0}}}
    before = fast.answered
    refused = await http.post("/graphql", json={"query": query, field: value})
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/json"
    (error,) = refused.json()["errors"]
    assert message in error["message"]
    assert fast.answered == before


@pytest.mark.parametrize(
    "content_type", ["Application/JSON", "APPLICATION/JSON; Charset=UTF-8", "application/json"]
)
async def test_the_json_media_type_is_json_in_any_case_both_ways(
    http: httpx.AsyncClient, fast: FastQueries, content_type: str
) -> None:
    # A document of its own per case: the first request must be the document's first.
    body = orjson.dumps({"query": f"query Cased {{ items {{ totalCount }} }} # {content_type}"})
    answers = []
    for _ in range(2):  # the whole way, then the fast path
        before = fast.answered
        response = await http.post("/graphql", content=body, headers={"Content-Type": content_type})
        answers.append((response.status_code, response.content, fast.answered - before))
    assert answers == [(200, b'{"data":{"items":{"totalCount":0}}}', n) for n in (0, 1)]


async def test_a_get_seen_before_is_answered_fast_with_the_same_bytes(
    http: httpx.AsyncClient, fast: FastQueries, alice: SignedIn
) -> None:
    await create_items(alice, 2)
    params = {"query": ITEMS, "variables": '{"n": 1}'}
    whole = await http.get("/graphql", params=params)
    before = fast.answered
    again = await http.get("/graphql", params=params)
    assert fast.answered == before + 1
    assert again.status_code == whole.status_code == 200
    assert again.content == whole.content
    assert len(again.json()["data"]["items"]["nodes"]) == 1
    # GraphiQL's page and a mutation are the whole way's, however often they come.
    for _ in range(2):
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.headers["content-type"].startswith("text/html")
        mutation = await http.get("/graphql", params={"query": CREATE_ITEM})
        assert mutation.status_code == 405
    assert fast.answered == before + 1


SKIPPED = """query ($no: Boolean = false) {
  items(first: 1) { totalCount } me { id username @skip(if: $no) } }"""


async def test_a_null_for_a_directive_keeps_the_other_fields_both_ways(
    http: httpx.AsyncClient,
    services: AppState,
    alice: SignedIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The issue's example: graphql-core reports the null at the field, keeps the rest."""
    token = alice.client.token
    with caplog.at_level(logging.INFO):
        answers = [
            (await post(http, SKIPPED, {"no": None}, Authorization=f"Bearer {token}")).json()
            for _ in range(3)
        ]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["data"] == {"items": {"totalCount": 0}, "me": None}
    (error,) = answers[0]["errors"]
    assert error["path"] == ["me"]
    assert "not to be None" in error["message"]
