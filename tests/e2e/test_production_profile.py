"""GRAPHQL_API_ENV=production, as an operator starts it: no secret, no start; with one,
no introspection, no GraphiQL, no suggestions, and every limit on."""

from pathlib import Path

import httpx
from graphql import get_introspection_query

from tests.support.server import cli_env, run_cli, running_server

ORDERED_ITEMS = "query($o: ItemOrder) { items(orderBy: $o) { totalCount } }"
SECRET = "a-production-secret-that-is-long-enough-" + "x" * 16


def test_without_a_secret_the_server_refuses_to_start(tmp_path: Path) -> None:
    env = cli_env(tmp_path, GRAPHQL_API_ENV="production")
    result = run_cli("serve", "--port", "1", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "GRAPHQL_API_SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_with_a_secret_introspection_graphiql_and_suggestions_are_off(tmp_path: Path) -> None:
    env = cli_env(tmp_path, GRAPHQL_API_ENV="production", GRAPHQL_API_SECRET_KEY=SECRET)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        page = httpx.get(f"{url}/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()

        def post(query: str) -> dict:  # type: ignore[type-arg]
            response = httpx.post(f"{url}/graphql", json={"query": query})
            assert response.status_code in (200, 400)
            return response.json()  # type: ignore[no-any-return]

        introspection = post(get_introspection_query())
        assert introspection.get("data") is None
        assert "introspection" in introspection["errors"][0]["message"].lower()

        typo = post("query { itemz { totalCount } }")["errors"][0]["message"]
        assert typo == "Cannot query field 'itemz' on type 'Query'."  # no "Did you mean"
        for typo_body in (
            {"query": "query { items(orderBy: TITLE_ASCC) { totalCount } }"},
            {"query": ORDERED_ITEMS, "variables": {"o": "TITLE_ASCC"}},
        ):
            message = httpx.post(f"{url}/graphql", json=typo_body).json()["errors"][0]["message"]
            assert "TITLE_ASCC" in message and "Did you mean" not in message

        deep = "query { " + "items { nodes { owner { " * 5 + "id" + " } } }" * 5 + " }"
        assert post(deep)["errors"][0]["extensions"]["limit"] == "depth"
