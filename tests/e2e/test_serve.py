"""The served app over a real socket: GraphQL, GraphiQL, health, and its short links."""

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.support.redis import REDIS_URL, redis_reachable
from tests.support.server import cli_env, run_cli, running_server
from tests.support.users import sign_up_over_http

REGISTER = """mutation($input: RegisterInput!) {
  register(input: $input) { accessToken userErrors { code } } }"""
SHORTEN = """mutation($url: String!) {
  shortenUrl(input: {url: $url}) { shortUrl { code shortUrl } userErrors { code } } }"""


def shorten(url: str, token: str, target: str) -> dict[str, object]:
    answer = httpx.post(
        f"{url}/graphql",
        json={"query": SHORTEN, "variables": {"url": target}},
        headers={"Authorization": f"Bearer {token}"},
    )
    payload: dict[str, object] = answer.json()["data"]["shortenUrl"]
    return payload


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


@pytest.mark.parametrize(
    "args",
    [(), ("--host", "0.0.0.0"), ("--workers", "2")],
    ids=["default-host", "every-interface", "two-workers"],
)
def test_short_links_live_on_the_address_served(tmp_path: Path, args: tuple[str, ...]) -> None:
    """`scripts/serve --port P` (`graphql-api serve --port P`): links on that port."""
    env = cli_env(tmp_path)
    if "--workers" in args:
        asyncio.run(redis_reachable())
        env["BROKER_URL"] = REDIS_URL
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path, *args) as url:  # on a free port
        token = asyncio.run(sign_up_over_http(url, "eve"))
        for n in range(4):  # with two workers, each is likely to make some
            made = shorten(url, token, f"https://example.com/docs/{n}")
            assert made["userErrors"] == []
            code = made["shortUrl"]["code"]  # type: ignore[index]
            assert made["shortUrl"] == {"code": code, "shortUrl": f"{url}/{code}"}
            followed = httpx.get(f"{url}/{code}")
            assert followed.status_code == 302
            assert followed.headers["location"] == f"https://example.com/docs/{n}"


def test_a_configured_public_url_wins_over_the_address_served(tmp_path: Path) -> None:
    """Set in `.env` (the environment works alike): links there, and no link to there."""
    env = cli_env(tmp_path)
    (tmp_path / ".env").write_text("GRAPHQL_API_PUBLIC_URL=https://sho.rt\n")
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        token = asyncio.run(sign_up_over_http(url, "eve"))
        made = shorten(url, token, "https://example.com/docs")
        code = made["shortUrl"]["code"]  # type: ignore[index]
        assert made["shortUrl"] == {"code": code, "shortUrl": f"https://sho.rt/{code}"}
        assert shorten(url, token, f"https://sho.rt/{code}")["userErrors"] == [
            {"code": "NOT_ALLOWED"}
        ]
