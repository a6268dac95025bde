"""Rate limits of the links feature: links created per user, unknown codes per address."""

from pathlib import Path

import httpx

from graphql_api.state import AppState
from tests.support.links import SET_ACTIVE, SHORTEN, shorten, upload
from tests.support.ratelimit import assert_rate_limited, client_at, limited_app
from tests.support.users import SignedIn, sign_up

MINE = "{ myShortUrls { totalCount } }"


async def shorten_response(owner: SignedIn, url: str = "https://example.com/x") -> httpx.Response:
    return await owner.client.post(SHORTEN, {"input": {"url": url}})


async def link_count(owner: SignedIn) -> int:
    return int((await owner.client.data(MINE))["myShortUrls"]["totalCount"])


def csv_of(rows: int) -> bytes:
    return b"url\n" + b"".join(f"https://example.com/{n}\n".encode() for n in range(rows))


async def test_each_user_may_create_so_many_links(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_shorten_per_user="3/hour") as app,
        client_at(app) as http,
    ):
        alice, bob = await sign_up(http, "alice"), await sign_up(http, "bob")
        for n in range(3):
            await shorten(alice, f"https://example.com/{n}")
        retry_after = assert_rate_limited(await shorten_response(alice))
        assert 3590 <= retry_after <= 3600
        assert await link_count(alice) == 3
        await shorten(bob)


async def test_an_import_counts_one_per_row(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_shorten_per_user="5/hour") as app,
        client_at(app) as http,
    ):
        alice = await sign_up(http, "alice")
        # More rows than any window allows can never go through: a userError at once.
        too_big = (await upload(alice, csv_of(6))).json()["data"]["importShortUrls"]
        assert [(e["field"], e["code"]) for e in too_big["userErrors"]] == [(["file"], "TOO_MANY")]
        assert "at most 5 links" in too_big["userErrors"][0]["message"]
        assert (
            len((await upload(alice, csv_of(3))).json()["data"]["importShortUrls"]["shortUrls"])
            == 3
        )
        await shorten(alice)
        # Two rows do not fit in the one place left: nothing of the file is created.
        assert_rate_limited(await upload(alice, csv_of(2)))
        assert await link_count(alice) == 4
        await shorten(alice)
        assert_rate_limited(await shorten_response(alice))
        assert await link_count(alice) == 5


async def test_unknown_codes_are_limited_per_address_and_known_ones_never(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_not_found_per_address="3/minute") as app,
        client_at(app, "198.51.100.1") as scanner,
        client_at(app, "198.51.100.2") as other,
    ):
        alice = await sign_up(scanner, "alice")
        known = (await shorten(alice))["code"]
        gone = (await shorten(alice))["code"]
        await alice.client.mutate(SET_ACTIVE, {"code": gone, "active": False})
        for _ in range(5):  # known codes, answered or gone, are not counted
            assert (await scanner.get(f"/{known}")).status_code == 302
            assert (await scanner.get(f"/{gone}")).status_code == 410
        for n in range(3):
            assert (await scanner.get(f"/unknown{n}")).status_code == 404
        refused = await scanner.get("/unknown3", headers={"Accept": "application/json"})
        assert refused.status_code == 429
        retry_after = int(refused.headers["retry-after"])
        assert 55 <= retry_after <= 60
        assert refused.headers["content-type"] == "text/plain; charset=utf-8"
        assert refused.text == (
            f"Too many requests for unknown links: try again in {retry_after} seconds.\n"
        )
        head = await scanner.head("/unknown4")
        assert (head.status_code, head.content) == (429, b"")
        assert (await scanner.get("/unknown5/qr.svg")).status_code == 429
        # While the scanner waits, links still work for it, and unknown codes elsewhere 404.
        assert (await scanner.get(f"/{known}")).status_code == 302
        assert (await scanner.get(f"/{known}/qr.svg")).status_code == 200
        assert (await other.get("/unknown0")).status_code == 404
