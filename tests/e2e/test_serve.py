"""The served app over a real socket: GraphQL, GraphiQL, health."""

from pathlib import Path

import httpx

from tests.cli_helpers import cli_env, run_cli, running_server

REGISTER = """mutation($input: RegisterInput!) {
  register(input: $input) { accessToken userErrors { code } } }"""


def test_served_api_answers_graphql_and_graphiql(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        registered = httpx.post(
            f"{url}/graphql",
            json={
                "query": REGISTER,
                "variables": {
                    "input": {
                        "email": "e@example.com",
                        "username": "eve",
                        "password": "long enough",
                    }
                },
            },
        )
        assert registered.status_code == 200
        token = registered.json()["data"]["register"]["accessToken"]
        me = httpx.post(
            f"{url}/graphql",
            json={"query": "{ me { username } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert me.json() == {"data": {"me": {"username": "eve"}}}
        assert me.headers["x-request-id"]
        page = httpx.get(f"{url}/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        assert httpx.get(f"{url}/readyz").json()["status"] == "ok"


def test_production_server_hides_graphiql_and_introspection(tmp_path: Path) -> None:
    env = cli_env(tmp_path, GRAPHQL_API_ENV="production", GRAPHQL_API_SECRET_KEY="s" * 48)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        page = httpx.get(f"{url}/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        introspection = httpx.post(
            f"{url}/graphql", json={"query": "{ __schema { types { name } } }"}
        )
        assert "data" not in introspection.json() or introspection.json()["data"] is None
        assert introspection.json()["errors"]
