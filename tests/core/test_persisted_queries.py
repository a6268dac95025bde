"""Automatic persisted queries (`core.graphql.documents.persisted`), Apollo's protocol, over HTTP.

A hash alone is PersistedQueryNotFound until the document is sent with it; from then on
the hash alone runs it, by POST or GET, the whole way or the fast path. Every document
here carries a comment of its own: the session's app keeps what a test registers.
"""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st

from graphql_api.core.graphql.documents.cache import MAX_CACHED_QUERY_LENGTH
from graphql_api.core.http.fast_path import FastQueries
from graphql_api.state import AppState
from tests.support.client import error_codes, grew, metrics
from tests.support.generated import examples
from tests.support.persisted import COUNT, NOT_FOUND, fresh, persisted, post_hash
from tests.support.ratelimit import client_at, limited_app
from tests.support.users import SignedIn

ME = "query Me { me { username } }"
ITEMS = "query Items($n: Int) { items(first: $n) { totalCount nodes { title } } }"
CREATE_ITEM = """mutation CreateItem($input: CreateItemInput!) {
  createItem(input: $input) { item { title } userErrors { code } }
}"""
GRAPHQL_RESPONSE = {"Accept": "application/graphql-response+json"}


async def get_hash(
    http: httpx.AsyncClient,
    query: str,
    *,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    params = {"extensions": json.dumps(persisted(query))}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    return await http.get("/graphql", params=params, headers=headers or {})


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_an_unknown_hash_is_persisted_query_not_found_and_never_cached(
    http: httpx.AsyncClient, method: str
) -> None:
    query = fresh(ME)
    send = post_hash if method == "POST" else get_hash
    plain = await send(http, query)
    assert plain.status_code == 200
    assert plain.json() == {"data": None, "errors": [NOT_FOUND]}
    assert plain.headers["cache-control"] == "no-store"
    # Under the spec's own media type: a request error, 400 and no data.
    spec = await send(http, query, headers=GRAPHQL_RESPONSE)
    assert spec.status_code == 400
    assert spec.headers["content-type"] == "application/graphql-response+json"
    assert spec.json() == {"errors": [NOT_FOUND]}
    assert spec.headers["cache-control"] == "no-store"


async def test_a_hash_sent_with_its_query_registers_it_for_post_and_get(
    http: httpx.AsyncClient, fast: FastQueries, alice: SignedIn
) -> None:
    await alice.client.mutate(CREATE_ITEM, {"title": "Lamp", "price": "3.00"})
    query = fresh(ITEMS)
    variables = {"n": 1}
    full = await http.post("/graphql", json={"query": query, "variables": variables})
    assert (await post_hash(http, query, variables=variables)).json()["errors"] == [NOT_FOUND]
    registered = await post_hash(http, query, send_query=True, variables=variables)
    assert registered.content == full.content
    assert registered.json()["data"]["items"]["nodes"] == [{"title": "Lamp"}]
    before = fast.answered
    by_post = await post_hash(http, query, variables=variables)
    by_get = await get_hash(http, query, variables=variables)
    # Seen before: the fast path answers the hash alone, byte for byte the whole way's.
    assert fast.answered == before + 2
    assert by_post.content == by_get.content == full.content
    assert by_get.headers["content-type"] == full.headers["content-type"]
    assert "cache-control" not in by_get.headers
    # The variables are this request's own.
    two = await get_hash(http, query, variables={"n": 0})
    assert two.json()["data"]["items"]["nodes"] == []


async def test_a_hash_alone_works_the_whole_way_for_a_document_this_path_has_not_parsed(
    http: httpx.AsyncClient, fast: FastQueries, alice: SignedIn
) -> None:
    query = fresh(ME)
    headers = {"Authorization": f"Bearer {alice.client.token}"}
    await post_hash(http, query, send_query=True, headers=headers)
    # Forget the parsed document (as another worker would not have it): the whole way.
    schema = fast.schema
    schema.documents._entries.pop(query)
    before = fast.answered
    response = await get_hash(http, query, headers=headers)
    assert fast.answered == before
    assert response.json() == {"data": {"me": {"username": "alice"}}}


async def test_a_hash_that_is_not_its_querys_is_refused_and_registers_nothing(
    http: httpx.AsyncClient,
) -> None:
    query, other = fresh(ME), fresh(ME)
    response = await http.post(
        "/graphql", json={"query": other, "extensions": persisted(query)}, headers=GRAPHQL_RESPONSE
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert "SHA-256" in response.json()["errors"][0]["message"]
    assert (await post_hash(http, query)).json()["errors"] == [NOT_FOUND]
    assert (await post_hash(http, other)).json()["errors"] == [NOT_FOUND]
    # Once registered, the hash names its own document and no other.
    await post_hash(http, query, send_query=True)
    again = await http.post("/graphql", json={"query": other, "extensions": persisted(query)})
    assert error_codes(again.json()) == ["PERSISTED_QUERY_HASH_MISMATCH"]


@pytest.mark.parametrize(
    "extension",
    [
        pytest.param({"version": 2, "sha256Hash": "0" * 64}, id="version-2"),
        pytest.param({"version": "1", "sha256Hash": "0" * 64}, id="version-string"),
        pytest.param({"version": True, "sha256Hash": "0" * 64}, id="version-true"),
        pytest.param({"sha256Hash": "0" * 64}, id="no-version"),
    ],
)
async def test_an_unsupported_version_is_a_clear_error(
    http: httpx.AsyncClient, extension: dict[str, Any]
) -> None:
    response = await http.post("/graphql", json={"extensions": {"persistedQuery": extension}})
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_INVALID"
    assert error["message"] == (
        "Unsupported persisted query version: this server knows version 1 only."
    )


@pytest.mark.parametrize(
    "extension",
    [
        pytest.param("abc", id="a-string"),
        pytest.param([1], id="a-list"),
        pytest.param({"version": 1}, id="no-hash"),
        pytest.param({"version": 1, "sha256Hash": 12}, id="a-number-for-hash"),
        pytest.param({"version": 1, "sha256Hash": ""}, id="an-empty-hash"),
        pytest.param({"version": 1, "sha256Hash": "a" * 129}, id="a-long-hash"),
    ],
)
@pytest.mark.parametrize("with_query", [False, True])
async def test_a_malformed_persisted_query_is_a_clear_error_on_either_way(
    http: httpx.AsyncClient, fast: FastQueries, extension: Any, with_query: bool
) -> None:
    body: dict[str, Any] = {"extensions": {"persistedQuery": extension}}
    if with_query:
        body["query"] = COUNT
        await http.post("/graphql", json={"query": COUNT})  # seen: the fast path may try
    before = fast.answered
    for response in (
        await http.post("/graphql", json=body),
        await http.get("/graphql", params={"extensions": json.dumps(body["extensions"])}),
    ):
        assert response.status_code == 200
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "PERSISTED_QUERY_INVALID"
        assert error["message"].startswith("extensions.persistedQuery must be {")
    assert fast.answered == before


async def test_a_mutation_by_hash_runs_by_post_and_is_405_by_get(
    http: httpx.AsyncClient, alice: SignedIn
) -> None:
    headers = {"Authorization": f"Bearer {alice.client.token}"}
    query = fresh(CREATE_ITEM)
    variables = {"input": {"title": "Once", "price": "1.00"}}
    created = await post_hash(http, query, send_query=True, variables=variables, headers=headers)
    assert created.json()["data"]["createItem"]["item"] == {"title": "Once"}
    by_get = await get_hash(http, query, variables=variables, headers=headers)
    assert by_get.status_code == 405
    assert by_get.headers["allow"] == "POST"
    again = await post_hash(http, query, variables=variables, headers=headers)
    assert again.json()["data"]["createItem"]["item"] == {"title": "Once"}
    count = await http.post("/graphql", json={"query": COUNT})
    assert count.json() == {"data": {"items": {"totalCount": 2}}}  # the GET created nothing


async def test_a_get_by_hash_is_an_operation_not_the_graphiql_page(
    http: httpx.AsyncClient,
) -> None:
    query = fresh(COUNT)
    await post_hash(http, query, send_query=True)
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for accept in (browser, "*/*"):
        response = await get_hash(http, query, headers={"Accept": accept})
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"data": {"items": {"totalCount": 0}}}
    unknown = await get_hash(http, fresh(COUNT), headers={"Accept": browser})
    assert unknown.json()["errors"] == [NOT_FOUND]
    # HTML alone: no page, and no answer it can read (a 406), as for a GET of a query.
    html = await get_hash(http, query, headers={"Accept": "text/html"})
    assert html.status_code == 406
    assert not html.headers["content-type"].startswith("text/html")


async def test_a_document_that_does_not_run_is_not_registered(http: httpx.AsyncClient) -> None:
    for query in (fresh("query Broken { me { nothing } }"), fresh("query Cut { me {")):
        answered = await post_hash(http, query, send_query=True)
        # The document's own errors (validation, syntax), then the hash is still unknown.
        assert answered.json()["errors"] != [NOT_FOUND]
        assert answered.json()["data"] is None
        assert (await post_hash(http, query)).json()["errors"] == [NOT_FOUND]


async def test_a_document_longer_than_the_document_cache_keeps_runs_but_is_not_kept(
    http: httpx.AsyncClient,
) -> None:
    query = COUNT + "\n#" + "x" * MAX_CACHED_QUERY_LENGTH
    answered = await post_hash(http, query, send_query=True)
    assert answered.json() == {"data": {"items": {"totalCount": 0}}}
    assert (await post_hash(http, query)).json()["errors"] == [NOT_FOUND]


async def test_this_process_keeps_only_the_most_recently_used_documents(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, persisted_queries_cache_size=2) as app,
        client_at(app) as http,
    ):
        first, second, third = fresh(COUNT), fresh(COUNT), fresh(COUNT)
        for query in (first, second):
            await post_hash(http, query, send_query=True)
        assert "errors" not in (await post_hash(http, first)).json()  # now the most recent
        await post_hash(http, third, send_query=True)
        assert (await post_hash(http, second)).json()["errors"] == [NOT_FOUND]
        for query in (first, third):
            assert "errors" not in (await post_hash(http, query)).json()


async def test_one_address_registers_so_many_then_its_documents_run_unkept(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    limit = {"rate_limit_persisted_queries_per_address": "2/minute"}
    async with (
        limited_app(database_url, tmp_path, **limit) as app,
        client_at(app, "192.0.2.7") as greedy,
        client_at(app, "192.0.2.8") as other,
    ):
        queries = [fresh(COUNT) for _ in range(3)]
        for query in queries:
            answered = await post_hash(greedy, query, send_query=True)
            assert answered.json() == {"data": {"items": {"totalCount": 0}}}
        assert ["errors" in (await post_hash(greedy, query)).json() for query in queries] == [
            False,
            False,
            True,
        ]
        # A document sent again is not a new registration; another address has its own.
        await post_hash(greedy, queries[0], send_query=True)
        await post_hash(other, queries[2], send_query=True)
        assert "errors" not in (await post_hash(greedy, queries[2])).json()


async def test_without_automatic_persisted_queries_a_hash_is_not_supported(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, persisted_queries=False) as app,
        client_at(app) as http,
    ):
        query = fresh(COUNT)
        for send_query in (False, True):
            response = await post_hash(http, query, send_query=send_query)
            assert response.json()["errors"] == [
                {
                    "message": "PersistedQueryNotSupported",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
                }
            ]
        # Apollo's link then sends the document alone, which runs.
        plain = await http.post("/graphql", json={"query": query})
        assert plain.json() == {"data": {"items": {"totalCount": 0}}}


def odd_persisted_queries(count: int) -> list[Any]:
    """`count` values for `extensions.persistedQuery`, the same on every run: any JSON,
    objects of its two keys with any values, and hashes of every length."""
    text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=8)
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )
    json_values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=6,
    )
    hexes = st.text("0123456789abcdefABCDEF", max_size=130)
    shaped = st.fixed_dictionaries(
        {"version": json_values | st.just(1), "sha256Hash": json_values | hexes}
    )
    return examples(st.one_of(json_values, shaped), count)


async def test_any_persisted_query_gets_a_clear_answer_the_same_every_time(
    http: httpx.AsyncClient,
) -> None:
    await http.post("/graphql", json={"query": COUNT})  # seen: the fast path may answer it
    for value in odd_persisted_queries(120):
        extensions = {"persistedQuery": value}
        for method, request in (
            ("POST", {"json": {"extensions": extensions}}),
            ("POST", {"json": {"query": COUNT, "extensions": extensions}}),
            ("GET", {"params": {"extensions": json.dumps(extensions)}}),
        ):
            # The whole way first, then perhaps the fast path: the same answer.
            answers = [await http.request(method, "/graphql", **request) for _ in range(3)]
            first = answers[0]
            assert first.status_code in (200, 400), (value, first.text)
            assert [(a.status_code, a.content) for a in answers[1:]] == [
                (first.status_code, first.content)
            ] * 2, value
            if value is None:  # no persisted query: the request as if it had none
                continue
            # Anything else names (or fails to name) a persisted query: a GraphQL error
            # that says which way, never the query sent beside it, never a server error.
            assert first.status_code == 200, (value, first.text)
            codes = error_codes(first.json())
            assert codes and all(c.startswith("PERSISTED_QUERY_") for c in codes), value


async def test_refusals_are_counted_by_code_in_the_metrics(http: httpx.AsyncClient) -> None:
    query = fresh(COUNT)
    before = await metrics(http)
    await post_hash(http, query)
    await get_hash(http, query)
    await http.post("/graphql", json={"query": fresh(COUNT), "extensions": persisted(query)})
    after = await metrics(http)
    missed = grew(before, after, "graphql_api_errors_total", code="PERSISTED_QUERY_NOT_FOUND")
    assert missed == 2
    assert (
        grew(before, after, "graphql_api_errors_total", code="PERSISTED_QUERY_HASH_MISMATCH") == 1
    )
    assert (
        grew(before, after, "graphql_api_operations_total", operation="_anonymous", type="invalid")
        == 3
    )
