"""Over HTTP, the app answers exactly what Strawberry and graphql-core alone would answer.

The app under test has every shortcut on: the fast path (`core.http.fast_path`) for queries
seen before, the plans (`core.graphql.engine.plans`) and the document cache. The reference app runs
on the same database with the document cache off, which turns the other two off with
it: every request takes Strawberry's view and graphql-core. Hypothesis generates the
requests: queries from the schema and hand-written documents with variables, inside
bodies and headers of every kind a client may send (variables of the wrong or a
borderline type, explicit nulls, odd `extensions`, NULs, batches, broken JSON, media
types in any case and with parameters, Accept variants, GET and POST; persisted queries:
the hash of a registered document or of an unknown one, alone (by POST or GET) or with
its query or another, wrong versions and malformed values), as anonymous,
user, admin or with a forged token. Each request goes three times to the app under
test (the first takes the whole way, later ones may take the fast path) and once to
the reference; status, headers and body must be the same bytes. Both apps keep their
own registered documents (no Redis here) and are sent the same registrations.

DIFFERENTIAL_EXAMPLES sets how many requests are generated per backend (`scripts/fuzz`
runs more, with fresh random draws).
"""

import os
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import strategies as st
from hypothesis_graphql import queries

from graphql_api.core.graphql.relay import to_global_id
from graphql_api.core.http.fast_path import FastQueries
from graphql_api.state import AppState
from tests.core.test_compiled_execution import SCALARS, SDL
from tests.support.generated import examples
from tests.support.persisted import register_documents, with_persisted_query
from tests.support.users import SignedIn, sign_up

EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "250"))
# A fuzzing run draws new requests each time; CI draws the same ones every run.
FUZZING = "DIFFERENTIAL_EXAMPLES" in os.environ
# Hand-written documents whose variables the generated bodies get wrong in every way.
DOCUMENTS = [
    "query Items($n: Int, $tag: String) { items(first: $n, tag: $tag) { totalCount "
    "nodes { id title price owner { username } } pageInfo { hasNextPage endCursor } } }",
    "query Skip($no: Boolean = false) { items(first: 1) { totalCount } "
    "me { id username @skip(if: $no) } }",
    "query Include($yes: Boolean!) { me { username email @include(if: $yes) } }",
    "query Node($id: ID!) { node(id: $id) { id ... on User { username "
    "items(first: 2) { nodes { title } } } ... on Item { title owner { username } } } }",
    "query Nested($n: Int) { users(first: $n) { nodes { username "
    "items(first: $n) { totalCount nodes { title tags } } } } }",
    "query Links($n: Int, $active: Boolean) { myShortUrls(first: $n, active: $active) "
    "{ totalCount nodes { code targetUrl isActive owner { username } } } }",
    "query Rooms { chatRooms { nodes { name title messages(last: 2) { nodes { text } } } } }",
    "query A { me { id } } query B { items { totalCount } }",
    "{ __typename }",
    "query Broken { items { nope } }",
    # Answered by PostgreSQL in one statement each (core.graphql.engine.sql).
    "query Listed($n: Int, $after: String, $order: ItemOrder, $tag: String, $search: String) "
    "{ items(first: $n, after: $after, orderBy: $order, tag: $tag, search: $search) { "
    "__typename totalCount edges { cursor node { id title description price tax createdAt "
    "owner { id username role isActive createdAt } } } "
    "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
    "query People($n: Int, $after: String, $search: String, $order: ItemOrder) "
    "{ users(first: $n, after: $after, search: $search) { totalCount "
    "pageInfo { hasNextPage endCursor } edges { cursor node { id username createdAt "
    "items(first: $n, orderBy: $order) { totalCount nodes { id title price owner { id } } "
    "edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor } } } } } }",
    # A mutation that changes nothing (no such item): POSTed it runs, over GET it is a 405.
    'mutation Delete { deleteItem(input: {id: "SXRlbTo5OTk5OTk="}) '
    "{ deletedId userErrors { code } } }",
]
OPERATION_NAMES = ["Items", "Skip", "A", "B", "Delete", "Listed", "People", "Unknown", ""]
VARIABLE_NAMES = ["n", "tag", "no", "yes", "id", "active", "after", "order", "search", "other"]
CONTENT_TYPES = [
    "application/json",
    "Application/JSON",
    "APPLICATION/JSON; charset=utf-8",
    "application/json;charset=UTF-8",
    "application/json; charset=latin-1",
    "application/json ; foo=bar",
    "application/graphql-response+json",
    "application/jsonx",
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "application/graphql",
    "",
    None,
]
ACCEPTS = [
    None,
    "",
    "*/*",
    "application/json",
    "application/graphql-response+json",
    "Application/GraphQL-Response+JSON",
    "application/graphql-response+json, application/json;q=0.9",
    "application/json, application/graphql-response+json;q=0.5",
    "application/graphql-response+json;q=0",
    "application/*",
    "text/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "image/png",
]
# Headers that differ by design: the request id, and how long the answer took.
IGNORED_HEADERS = frozenset({"x-request-id", "x-process-time"})


@dataclass(frozen=True)
class HttpRequest:
    """One generated request: everything but the token, which depends on the role."""

    method: str
    role: str
    headers: dict[str, str]
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        body = self.content[:600] if self.content else b""
        return f"{self.method} as {self.role} {self.headers} params={self.params} body={body!r}"


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.sampled_from([2.0, 2.5, 0.0, -1.0, 100.0, 101.0, 1e3, 1e30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(["2", "", "a\x00b", "\x00", "true", "SGVsbG8="]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=4,
)
ABSENT: Any = object()  # a parameter left out of the request


def variables_strategy(ids: list[str]) -> st.SearchStrategy[Any]:
    value = st.one_of(JSON_VALUES, st.sampled_from(ids))
    return st.one_of(
        st.just(ABSENT),
        st.none(),
        st.just({}),
        st.dictionaries(st.sampled_from(VARIABLE_NAMES), value, min_size=1, max_size=3),
        st.dictionaries(st.sampled_from(VARIABLE_NAMES), value, min_size=1, max_size=3),
        st.sampled_from([[], 0, False, True, "x", 1.5, [{"n": 1}]]),
    )


EXTENSIONS = st.one_of(
    st.just(ABSENT),
    st.none(),
    st.just({}),
    st.sampled_from(["x", 0, [], False, {"a": "\x00"}, {"\x00": 1}, {"a": [1, {"b": None}]}]),
    st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=2),
)
OPERATION_NAME = st.one_of(
    st.just(ABSENT), st.none(), st.sampled_from(OPERATION_NAMES), st.sampled_from([0, [], {}])
)


def body_strategy(ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    # Mostly documents seen before, so that the fast path has them; some new ones.
    document = st.one_of(
        st.sampled_from(DOCUMENTS),
        st.sampled_from(DOCUMENTS),
        st.sampled_from(DOCUMENTS),
        queries(SDL, custom_scalars=SCALARS, allow_x00=False),
        st.sampled_from([ABSENT, None, 0, ["{ __typename }"], "", "{"]),
    )
    return st.fixed_dictionaries(
        {
            "query": document,
            "variables": variables_strategy(ids),
            "operationName": OPERATION_NAME,
            "extensions": EXTENSIONS,
        },
        optional={"unknownKey": JSON_VALUES},
    ).map(lambda body: {k: v for k, v in body.items() if v is not ABSENT})


def encode(body: dict[str, Any], how: str) -> bytes:
    data = orjson.dumps(body)
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "batch":
        return b"[" + data + b"]"
    if how == "empty":
        return b""
    if how == "scalar":
        return b"42"
    return data


def as_query_string(body: dict[str, Any]) -> dict[str, str]:
    """A body's parameters as a GET sends them: strings, variables and extensions as JSON."""
    params = {}
    for key, value in body.items():
        if key in ("variables", "extensions") or not isinstance(value, str):
            params[key] = orjson.dumps(value).decode()
        else:
            params[key] = value
    return params


def request_strategy(ids: list[str]) -> st.SearchStrategy[HttpRequest]:
    @st.composite
    def build(draw: st.DrawFn) -> HttpRequest:
        body = draw(body_strategy(ids))
        if draw(st.integers(0, 3)) == 0:  # a quarter name a persisted query
            body = with_persisted_query(body, draw, DOCUMENTS)
        role = draw(st.sampled_from(["anonymous", "user", "admin", "forged"]))
        headers = {}
        accept = draw(st.sampled_from(ACCEPTS))
        if accept is not None:
            headers["Accept"] = accept
        if draw(st.sampled_from(["POST"] * 4 + ["GET"])) == "GET":
            return HttpRequest("GET", role, headers, params=as_query_string(body))
        content_type = draw(st.sampled_from(CONTENT_TYPES[:3] * 6 + CONTENT_TYPES))
        if content_type is not None:
            headers["Content-Type"] = content_type
        how = draw(st.sampled_from(["json"] * 12 + ["truncated", "batch", "empty", "scalar"]))
        return HttpRequest("POST", role, headers, content=encode(body, how))

    return build()


def generated_requests(ids: list[str], count: int) -> list[HttpRequest]:
    return examples(request_strategy(ids), count, derandomize=not FUZZING)


CREATE_ITEM = """mutation C($input: CreateItemInput!) {
  createItem(input: $input) { item { id } userErrors { code } } }"""
SHORTEN = """mutation S($input: ShortenUrlInput!) {
  shortenUrl(input: $input) { shortUrl { id } userErrors { code } } }"""
CREATE_ROOM = """mutation R($input: CreateChatRoomInput!) {
  createChatRoom(input: $input) { chatRoom { id } userErrors { code } } }"""
SEND = """mutation M($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id } userErrors { code } } }"""


@dataclass
class World:
    tokens: dict[str, str | None]
    ids: list[str]


@pytest.fixture
async def world(
    http: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    services: AppState,
    alice: SignedIn,
    admin: SignedIn,
) -> World:
    """Users, items (some tagged), short links and a chat room, made through the API;
    the hand-written documents registered as persisted queries in both apps."""
    await register_documents(DOCUMENTS, http, reference)
    bob = await sign_up(http, "bob")
    ids = [alice.id, bob.id, admin.id, to_global_id("ChatRoom", 999_999), "bm9wZQ=="]
    for n, who in enumerate([alice, bob, alice, admin, bob]):
        payload = await who.client.mutate(
            CREATE_ITEM,
            {"title": f"thing {n}", "price": f"{n + 1}.25", "tags": ["red"] if n % 2 else []},
        )
        ids.append(payload["item"]["id"])
    for n, who in enumerate([alice, alice, bob]):
        await who.client.mutate(SHORTEN, {"url": f"https://example.com/{n}", "code": f"link-{n}"})
    await alice.client.mutate(CREATE_ROOM, {"name": "lobby", "title": "Lobby"})
    for text in ("hello", "hi alice"):
        await alice.client.mutate(SEND, {"room": "lobby", "text": text})
    # Cursors and orders, which generated variables take as they take IDs.
    cursors = await alice.client.data(
        "{ a: items(first: 2) { edges { cursor } } b: items(first: 2, orderBy: PRICE_ASC) "
        "{ edges { cursor } } c: users(first: 2) { edges { cursor } } }"
    )
    ids += [edge["cursor"] for found in cursors.values() for edge in found["edges"]]
    ids += ["PRICE_DESC", "TITLE_ASC", "CREATED_AT_ASC"]
    tokens = {
        "anonymous": None,
        "user": alice.client.token,
        "admin": admin.client.token,
        "forged": "forged.token.value",
    }
    return World(tokens, ids)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @classmethod
    async def of(
        cls, client: httpx.AsyncClient, request: HttpRequest, token: str | None
    ) -> "Answer":
        headers = dict(request.headers)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = await client.request(
            request.method,
            "/graphql",
            headers=headers,
            content=request.content,
            params=request.params or None,
        )
        kept = sorted((k, v) for k, v in response.headers.items() if k not in IGNORED_HEADERS)
        return cls(response.status_code, tuple(kept), response.content)


async def differences(
    http: httpx.AsyncClient, reference: httpx.AsyncClient, request: HttpRequest, world: World
) -> list[str]:
    """How the three answers of the app under test differ from the reference's, if they do."""
    token = world.tokens[request.role]
    expected = await Answer.of(reference, request, token)
    found = []
    if expected.status >= 500:
        found.append(f"the reference failed: {expected}")
    for attempt in ("first", "second", "third"):
        ours = await Answer.of(http, request, token)
        if ours != expected:
            found.append(f"{attempt}: {ours}\n  reference: {expected}")
    return [f"{request.describe()}\n  " + "\n  ".join(found)] if found else []


# The issue's divergences, each as a request every role sends.
ISSUE = [
    ({"query": DOCUMENTS[0], "variables": []}, "application/json"),
    ({"query": DOCUMENTS[0], "variables": 0}, "application/json"),
    ({"query": DOCUMENTS[0], "variables": False}, "application/json"),
    ({"query": DOCUMENTS[0], "extensions": "x"}, "application/json"),
    ({"query": DOCUMENTS[0], "extensions": {"a": "\x00"}}, "application/json"),
    ({"query": DOCUMENTS[0]}, "Application/JSON"),
    ({"query": DOCUMENTS[1], "variables": {"no": None}}, "application/json"),
    ({"query": DOCUMENTS[4], "variables": {"n": 2.0}}, "application/json"),
    ({"query": DOCUMENTS[4], "variables": {"n": 100.0}}, "application/json"),
    ({"query": DOCUMENTS[3], "variables": {"id": "VXNlcjox"}}, "application/json"),
    ({"query": DOCUMENTS[7]}, "application/json"),
    ({"query": DOCUMENTS[7], "operationName": "C"}, "application/json"),
]


@pytest.mark.parametrize("accept", [None, "application/graphql-response+json"])
async def test_the_issues_requests_are_answered_as_without_shortcuts(
    http: httpx.AsyncClient, reference: httpx.AsyncClient, world: World, accept: str | None
) -> None:
    found = []
    for body, content_type in ISSUE:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        # Seen before, as a client sent it right: the fast path has its document.
        primer = HttpRequest(
            "POST", "user", headers, content=orjson.dumps({"query": body["query"]})
        )
        found += await differences(http, reference, primer, world)
        for role in world.tokens:
            request = HttpRequest("POST", role, headers, content=orjson.dumps(body))
            found += await differences(http, reference, request, world)
    if found:
        pytest.fail(f"{len(found)} requests differ:\n" + "\n".join(found))


async def test_generated_requests_are_answered_as_without_shortcuts(
    http: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    world: World,
    services: AppState,
    fast: FastQueries,
) -> None:
    plans = fast.schema.plans
    before = plans.sql_answered
    found = []
    for request in generated_requests(world.ids, EXAMPLES):
        found += await differences(http, reference, request, world)
    if found:
        pytest.fail(f"{len(found)} of {EXAMPLES} requests differ:\n" + "\n".join(found))
    if services.engine.dialect.name == "postgresql":
        print(f"root fields PostgreSQL answered: {plans.sql_answered - before}")
        assert plans.sql_answered - before > 10  # the compiled statements were compared
