"""Persisted-query requests for tests: hashes as Apollo's link sends them, and bodies that
name a document by hash in every way a client may (the HTTP differential tests)."""

import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

import httpx
from hypothesis import strategies as st

# Its hash names a document no test ever sends: PersistedQueryNotFound everywhere.
NEVER_SENT = "query Never { sent }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(query: str, version: Any = 1) -> dict[str, Any]:
    """`extensions` naming `query` by its hash, as Apollo's link sends them."""
    return {"persistedQuery": {"version": version, "sha256Hash": sha256(query)}}


UNKNOWN_HASH = sha256(NEVER_SENT)
# Values of `persistedQuery` that name nothing: each a PERSISTED_QUERY_* error.
ODD_VALUES: list[Any] = [
    "abc",
    [],
    {},
    {"version": 1},
    {"version": 1, "sha256Hash": 12},
    {"version": 1, "sha256Hash": ""},
    {"version": 1, "sha256Hash": UNKNOWN_HASH.upper()},
    {"version": 1, "sha256Hash": "a" * 129},
]


def with_persisted_query(
    body: dict[str, Any], draw: st.DrawFn, documents: Sequence[str]
) -> dict[str, Any]:
    """The body with `extensions.persistedQuery`: mostly the hash of its query (or, with
    none, of one of `documents`), else of another or an unknown document, or an odd
    value; sent with its query, with another one or alone."""
    query = body.get("query")
    named_ones = [query] * 3 if query in documents else list(documents)
    named = draw(st.sampled_from([*named_ones, documents[0], NEVER_SENT]))
    right = {"version": 1, "sha256Hash": sha256(named)}
    odd = st.one_of(
        st.fixed_dictionaries(
            {"version": st.sampled_from([1.0, 2, "1", True, None])},
            optional={"sha256Hash": st.sampled_from([sha256(named), UNKNOWN_HASH])},
        ),
        st.sampled_from(ODD_VALUES),
    )
    value = draw(st.one_of(st.just(right), st.just(right), st.just(right), odd))
    body = {**body, "extensions": {"persistedQuery": value}}
    sent = draw(st.sampled_from(["alone", "alone", "with its query", "with another"]))
    if sent == "alone":
        body.pop("query", None)
    elif sent == "with another":
        body["query"] = draw(st.sampled_from(documents))
    return body


async def register_documents(documents: Sequence[str], *clients: httpx.AsyncClient) -> None:
    """Each document registered as a persisted query, the same in each app: a hash alone
    then names it (what registers one is tested in test_persisted_queries)."""
    for client in clients:
        for document in documents:
            body = {"query": document, "extensions": persisted(document)}
            answer = await client.post("/graphql", json=body)
            assert "PERSISTED_QUERY" not in answer.text, answer.text


COUNT = "query Count { items { totalCount } }"


NOT_FOUND = {
    "message": "PersistedQueryNotFound",
    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
}


def fresh(query: str) -> str:
    """The query with a comment no other test sends: a document not registered yet."""
    return f"{query}\n# {secrets.token_hex(8)}"


async def post_hash(
    http: httpx.AsyncClient,
    query: str,
    *,
    send_query: bool = False,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"extensions": persisted(query), "variables": variables or {}}
    if send_query:
        body["query"] = query
    return await http.post("/graphql", json=body, headers=headers or {})
