"""Security headers on every response, GraphiQL's CSP, HSTS for https, CORS preflights."""

import re
from pathlib import Path

import httpx
import pytest

from tests.support.client import client_for
from tests.support.links import BROWSER, shorten
from tests.support.users import SignedIn

NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
ALLOWED_ORIGIN = "https://app.example"


def assert_hardened(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers  # the test server is http


async def test_api_responses_are_hardened(http: httpx.AsyncClient) -> None:
    responses = [
        await http.post("/graphql", json={"query": "{ __typename }"}),
        await http.post("/graphql", content=b"{", headers={"Content-Type": "application/json"}),
        await http.get("/livez"),
        await http.get("/nope123"),
    ]
    for response in responses:
        assert_hardened(response)
        assert response.headers["content-security-policy"] == NOTHING_POLICY


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
async def test_redirects_are_hardened(
    http: httpx.AsyncClient, alice: SignedIn, accept: str
) -> None:
    link = await shorten(alice)
    response = await http.get(f"/{link['code']}", headers={"User-Agent": BROWSER, "Accept": accept})
    assert response.status_code == 302
    assert_hardened(response)
    assert response.headers["content-security-policy"] == NOTHING_POLICY
    qr = await http.get(f"/{link['code']}/qr.svg")
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.headers["content-security-policy"] == NOTHING_POLICY  # an SVG can hold scripts


def policy(header: str) -> dict[str, list[str]]:
    directives = (d.split() for d in header.split(";") if d.strip())
    return {name: sources for name, *sources in directives}


async def test_graphiql_may_load_exactly_its_own_assets(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_hardened(response)
    page = response.text
    csp = policy(response.headers["content-security-policy"])

    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page)
    stylesheets = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', page, re.S)
    assert scripts and stylesheets
    assert "<script>" not in page and "<style>" not in page  # nothing inline
    # Every file from this server (core.http.ide), none from a CDN: it works offline.
    for asset in scripts + stylesheets:
        assert asset.startswith("/graphql/assets/")
        served = await http.get(asset)
        assert served.status_code == 200, asset
        assert served.headers["content-type"].startswith(("text/javascript", "text/css"))
    assert csp["script-src"] == csp["style-src"] == ["'self'"]
    # Queries and subscriptions go to this server only; nothing may frame the page.
    assert csp["connect-src"] == ["'self'"]
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["img-src"] == csp["font-src"] == ["data:"]
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "https:"} & {
        source for sources in csp.values() for source in sources
    }


async def test_hsts_only_when_the_public_url_is_https(database_url: str, tmp_path: Path) -> None:
    async with client_for(database_url, tmp_path, public_url="https://sho.rt") as client:
        response = await client.get("/livez")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_cors_preflights_pass_for_allowed_origins_only(
    database_url: str, tmp_path: Path
) -> None:
    async with client_for(database_url, tmp_path, cors_origins=[ALLOWED_ORIGIN]) as client:
        allowed = await client.options(
            "/graphql",
            headers={
                "Origin": ALLOWED_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, "
                "graphql-require-preflight",
            },
        )
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert "POST" in allowed.headers["access-control-allow-methods"]
        assert {"authorization", "content-type", "graphql-require-preflight"} <= {
            h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
        }
        actual = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": ALLOWED_ORIGIN}
        )
        assert actual.headers["access-control-allow-origin"] == ALLOWED_ORIGIN

        for origin in ("https://evil.example", "https://app.example.evil.example", "null"):
            refused = await client.options(
                "/graphql",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert refused.status_code == 400
            assert "access-control-allow-origin" not in refused.headers
            response = await client.post(
                "/graphql", json={"query": "{ __typename }"}, headers={"Origin": origin}
            )
            assert "access-control-allow-origin" not in response.headers

        put = await client.options(
            "/graphql", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "PUT"}
        )
        assert put.status_code == 400


async def test_without_cors_origins_every_preflight_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/graphql",
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers
