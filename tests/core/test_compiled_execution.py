"""Queries answered from compiled plans equal graphql-core's answers, exactly.

Each query runs twice over the same data as the same viewer: through the schema as
shipped (plans) and through a schema with the document cache off, which leaves every
operation to graphql-core. Answers must be equal, key order included, and where a plan
cannot answer (an error somewhere), graphql-core's answer must be what the client gets.
Hand-written queries cover fragments, abstract types, directives, aliases and nulls;
hypothesis-graphql then generates queries from the schema.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import graphql
import orjson
import pytest
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries

from graphql_api.core.graphql.context import Context
from graphql_api.items.models import Item, ItemTag
from graphql_api.schema import Schema, build_schema
from graphql_api.state import AppState
from graphql_api.users.models import User
from tests.support.generated import examples
from tests.support.users import SignedIn

SDL = (Path(__file__).parents[2] / "schema.graphql").read_text()
SCALARS = {
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(lambda t: nodes.String(t.isoformat())),
    "Decimal": st.decimals(places=2, min_value=0, max_value=1000).map(
        lambda d: nodes.String(str(d))
    ),
    "Upload": st.just(graphql.NullValueNode()),
}

QUERIES = [
    # The two read workloads of scripts/bench.
    "{ items(first: 20) { nodes { id title price createdAt owner { id username } } "
    "pageInfo { hasNextPage endCursor } } }",
    "{ users(first: 20) { nodes { id username createdAt "
    "items(first: 5) { nodes { id title price } } } } }",
    # Fragments, inline fragments, aliases, __typename, merged fields, nulls and enums.
    """
    query Q($n: Int = 3, $withTags: Boolean!, $skipOwner: Boolean!) {
      me { ...Person email role isActive }
      first: items(first: $n, orderBy: PRICE_ASC) {
        __typename
        totalCount
        edges { cursor node { ...ItemParts tags @include(if: $withTags) } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
      second: items(first: 2, tag: "red") {
        nodes { ... on Item { title description tax priceWithTax } owner @skip(if: $skipOwner) {
          username items(first: 1) { nodes { title } } } }
      }
    }
    fragment Person on User { __typename id username createdAt }
    fragment ItemParts on Item { id title price owner { ...Person } }
    """,
    # Abstract types: the Node interface, objects of several types, and a missing one.
    """
    query Nodes($a: ID!, $b: ID!, $c: ID!) {
      a: node(id: $a) { __typename id ... on User { username } ... on Item { title } }
      b: node(id: $b) { id ...on Item { price owner { username } } }
      c: node(id: $c) { id }
    }
    """,
    # Errors: a bad cursor, a viewer-only list without a token is tested separately.
    '{ items(first: 2, after: "not-a-cursor") { nodes { id } } me { username } }',
    "{ ok: items(first: 1) { nodes { title } } bad: items(first: 1000) { nodes { id } } }",
]


@pytest.fixture
async def data(services: AppState, alice: SignedIn) -> dict[str, Any]:
    """alice and three more users with items (some tagged, some with tax) to read."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with services.sessionmaker.begin() as session:
        users = [
            User(username=f"user{i}", email=f"user{i}@example.com", password_hash="-")
            for i in range(3)
        ]
        session.add_all(users)
        await session.flush()
        items = [
            Item(
                owner_id=user.id,
                title=f"{user.username} thing {n}",
                description=None if n % 2 else "described",
                price=Decimal(f"{n + 1}.25"),
                tax=Decimal("0.50") if n % 3 == 0 else None,
                created_at=start + timedelta(hours=n, minutes=i),
            )
            for i, user in enumerate(users)
            for n in range(4)
        ]
        session.add_all(items)
        await session.flush()
        session.add_all(ItemTag(item_id=item.id, tag="red") for item in items[::3])
    return {
        "a": alice.id,
        "b": _global_id("Item", items[0].id),
        "c": _global_id("ChatRoom", 999_999),
        "token": alice.client.token,
    }


def _global_id(type_name: str, pk: int) -> str:
    from graphql_api.core.graphql.relay import to_global_id

    return to_global_id(type_name, pk)


@pytest.fixture
def schemas(services: AppState) -> tuple[Schema, Schema]:
    compiled = build_schema(services.settings)
    reference = build_schema(services.settings.model_copy(update={"document_cache_size": 0}))
    return compiled, reference


async def run(
    schema: Schema, services: AppState, query: str, variables: dict[str, Any], token: str | None
) -> bytes:
    context = Context(services, token=token, request_id="test")
    result = await schema.execute(query, variables, context_value=context)
    answer = {"data": result.data}
    if result.errors:
        answer["errors"] = [e.formatted for e in result.errors]
    return orjson.dumps(answer)


async def compare(
    schemas: tuple[Schema, Schema],
    services: AppState,
    query: str,
    variables: dict[str, Any],
    token: str | None,
) -> bytes:
    compiled, reference = schemas
    ours = await run(compiled, services, query, variables, token)
    # Twice: the second run takes the cached document and plan.
    assert await run(compiled, services, query, variables, token) == ours
    theirs = await run(reference, services, query, variables, token)
    assert ours == theirs, f"{query}\nplans:        {ours!r}\ngraphql-core: {theirs!r}"
    return ours


async def test_plans_answer_like_graphql_core(
    data: dict[str, Any], schemas: tuple[Schema, Schema], services: AppState
) -> None:
    variables = {"withTags": True, "skipOwner": False, "a": data["a"], "b": data["b"]}
    variables["c"] = data["c"]
    answers = [
        orjson.loads(await compare(schemas, services, q, variables, data["token"])) for q in QUERIES
    ]
    compiled = schemas[0]
    assert compiled.plans is not None
    # The plans answered the first four themselves; the last two have errors, which
    # graphql-core reported.
    assert (compiled.plans.answered, compiled.plans.fallbacks) == (4 * 2, 2 * 2)
    assert all("errors" not in a for a in answers[:4])
    assert all("errors" in a for a in answers[4:])
    assert answers[3]["data"]["b"]["owner"]["username"] == "user0"
    assert answers[3]["data"]["c"] is None
    second = answers[2]["data"]["second"]["nodes"]
    assert [n["title"] for n in second] == ["user0 thing 3", "user1 thing 2"]


async def test_directives_follow_the_variables(
    data: dict[str, Any], schemas: tuple[Schema, Schema], services: AppState
) -> None:
    """One document, planned once per combination of @skip/@include values."""
    seen = set()
    for with_tags in (True, False):
        for skip_owner in (True, False):
            variables = {"withTags": with_tags, "skipOwner": skip_owner}
            answer = orjson.loads(
                await compare(schemas, services, QUERIES[2], variables, data["token"])
            )
            node = answer["data"]["first"]["edges"][0]["node"]
            owner = answer["data"]["second"]["nodes"][0].get("owner")
            assert ("tags" in node) is with_tags
            assert (owner is not None) is not skip_owner
            seen.add(orjson.dumps(answer))
    assert len(seen) == 4


async def test_errors_without_a_token_come_from_graphql_core(
    data: dict[str, Any], schemas: tuple[Schema, Schema], services: AppState
) -> None:
    answer = orjson.loads(await compare(schemas, services, QUERIES[1], {}, None))
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_null_for_a_directive_is_reported_as_graphql_core_reports_it(
    data: dict[str, Any], schemas: tuple[Schema, Schema], services: AppState
) -> None:
    """@include takes a Boolean!: a null from a variable with a default is the client's
    mistake, met while planning (at the root) or while the plan runs (in a fragment)."""
    at_root = "query R($b: Boolean = true) { me @include(if: $b) { id } }"
    in_a_fragment = (
        "query F($id: ID!, $b: Boolean = true) "
        "{ node(id: $id) { id ... on User @include(if: $b) { username } } }"
    )
    for query in (at_root, in_a_fragment):
        await compare(schemas, services, query, {"id": data["a"]}, data["token"])
        answer = orjson.loads(
            await compare(schemas, services, query, {"id": data["a"], "b": None}, data["token"])
        )
        assert "provided to non-null type 'Boolean!' not to be None" in str(answer), answer


def generated_queries(count: int) -> list[str]:
    """`count` queries from hypothesis-graphql, the same on every run: half ask for one
    root field that needs no arguments (mostly answerable), half for anything."""
    one_field = st.sampled_from(["items", "me", "users", "chatRooms", "myShortUrls"]).flatmap(
        lambda name: queries(SDL, fields=[name], custom_scalars=SCALARS, allow_x00=False)
    )
    anything = queries(SDL, custom_scalars=SCALARS, allow_x00=False)
    return examples(st.one_of(one_field, anything), count)


async def test_generated_queries_answer_like_graphql_core(
    data: dict[str, Any], schemas: tuple[Schema, Schema], services: AppState
) -> None:
    plans = schemas[0].plans
    assert plans is not None
    queries_ = generated_queries(200)
    by_plans = 0
    for query in queries_:
        answered = plans.answered
        await compare(schemas, services, query, {}, data["token"])
        by_plans += plans.answered > answered
    # Most generated queries pass random arguments that some resolver refuses; still, a
    # good share must have been answered by plans, or this test would test nothing.
    assert by_plans >= len(queries_) // 4, (by_plans, len(queries_))
