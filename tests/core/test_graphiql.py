"""GraphiQL's page and files (`core.http.ide`); in a browser: tests/e2e/test_graphiql_browser.py."""

from pathlib import Path

import httpx
import pytest

from tests.support.client import client_for

HTML = {"Accept": "text/html"}


@pytest.mark.parametrize(
    "name", ["package.json", "..%2F..%2Fpyproject.toml", "index.html", "graphiql.js"]
)
async def test_only_the_files_the_page_names_are_served(http: httpx.AsyncClient, name: str) -> None:
    assert (await http.get(f"/graphql/assets/{name}")).status_code == 404


async def test_vendor_files_are_cached_and_ours_revalidated(http: httpx.AsyncClient) -> None:
    vendor = await http.get("/graphql/assets/graphiql.min.js")
    assert vendor.headers["cache-control"] == "public, max-age=86400"
    own = await http.get("/graphql/assets/setup.js")
    assert own.headers["cache-control"] == "no-cache"
    assert "graphqlWs.createClient" in own.text and "connectionParams: headers" in own.text


async def test_without_the_npm_files_the_page_says_how_to_install_them(
    database_url: str, tmp_path: Path
) -> None:
    async with client_for(database_url, tmp_path, graphiql_assets_dir=tmp_path) as client:
        page = await client.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert "scripts/serve" in page.text and "<script" not in page.text
        assert (await client.get("/graphql/assets/graphiql.min.js")).status_code == 404


async def test_off_means_no_page_and_no_files(database_url: str, tmp_path: Path) -> None:
    async with client_for(database_url, tmp_path, graphiql=False) as client:
        page = await client.get("/graphql", headers=HTML)
        assert "graphiql" not in page.text.lower()
        assert (await client.get("/graphql/assets/setup.js")).status_code == 404
