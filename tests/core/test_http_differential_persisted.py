"""Over HTTP, persisted queries are answered exactly as without shortcuts.

The requests of `test_http_differential` by hash: a registered document's hash alone (by
POST and GET, where the fast path answers), an unknown hash, another version, a hash
sent with another document (registered or not), a mutation's hash by GET, a malformed
`persistedQuery`; each as every role and under each Accept. The reference app (the
document cache off) keeps automatic persisted queries: the same app, no shortcuts.
"""

import httpx
import orjson
import pytest

from graphql_api.core.http.fast_path import FastQueries
from tests.core.test_http_differential import (  # noqa: F401 (fixtures)
    DOCUMENTS,
    HttpRequest,
    World,
    as_query_string,
    differences,
    world,
)
from tests.support.persisted import UNKNOWN_HASH, persisted

# As `(body, method)`: by hash, the hash checked against the query sent with it.
PERSISTED = [
    ({"extensions": persisted(DOCUMENTS[0]), "variables": {"n": 2}}, "POST"),
    ({"extensions": persisted(DOCUMENTS[0]), "variables": {"n": 2}}, "GET"),
    ({"extensions": persisted(DOCUMENTS[9])}, "GET"),  # never registered: it does not validate
    ({"extensions": persisted(DOCUMENTS[2]), "variables": {"yes": True}}, "GET"),
    ({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": UNKNOWN_HASH}}}, "POST"),
    ({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": UNKNOWN_HASH}}}, "GET"),
    ({"extensions": persisted(DOCUMENTS[0], version=2)}, "POST"),
    ({"extensions": persisted(DOCUMENTS[0], version=2)}, "GET"),
    ({"query": DOCUMENTS[4], "extensions": persisted(DOCUMENTS[0])}, "POST"),
    ({"query": DOCUMENTS[4], "extensions": persisted(DOCUMENTS[4] + " ")}, "POST"),
    ({"query": DOCUMENTS[0], "extensions": persisted(DOCUMENTS[0])}, "POST"),
    ({"query": DOCUMENTS[0], "extensions": persisted(DOCUMENTS[0])}, "GET"),
    ({"extensions": persisted(DOCUMENTS[10])}, "GET"),  # a mutation: 405
    ({"extensions": persisted(DOCUMENTS[7])}, "POST"),  # two operations, none named
    ({"extensions": {"persistedQuery": "abc"}}, "GET"),
]


@pytest.mark.parametrize("accept", [None, "*/*", "application/graphql-response+json", "text/html"])
async def test_persisted_queries_are_answered_as_without_shortcuts(
    http: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    fast: FastQueries,
    world: World,  # noqa: F811
    accept: str | None,
) -> None:
    # The reference has automatic persisted queries too: a hash alone runs its document.
    by_hash = await reference.get("/graphql", params=as_query_string(PERSISTED[1][0]))
    assert "errors" not in by_hash.json() and by_hash.json()["data"]["items"], by_hash.text
    by_hash_alone = 0  # what the fast path answered of the requests without a query
    found = []
    for body, method in PERSISTED:
        headers = {"Accept": accept} if accept else {}
        if method == "POST":
            headers["Content-Type"] = "application/json"
        for role in world.tokens:
            if method == "GET":
                request = HttpRequest("GET", role, headers, params=as_query_string(body))
            else:
                request = HttpRequest("POST", role, headers, content=orjson.dumps(body))
            answered = fast.answered
            found += await differences(http, reference, request, world)
            if "query" not in body:
                by_hash_alone += fast.answered - answered
    if found:
        pytest.fail(f"{len(found)} requests differ:\n" + "\n".join(found))
    if accept != "text/html":  # a 406 otherwise, from the whole way
        assert by_hash_alone > 0
