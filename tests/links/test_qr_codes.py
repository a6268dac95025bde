"""`ShortUrl.qrCodeSvg`: priced in the cost limit, drawn off the event loop, drawn once."""

import threading
import time
from typing import Any

import httpx
import pytest
import segno

from graphql_api.core.graphql.relay import pk_of
from graphql_api.links import qr
from graphql_api.links.models import ShortUrl
from graphql_api.state import AppState
from tests.support.client import error_codes
from tests.support.users import SignedIn

PAGE = "query Page($n: Int) { myShortUrls(first: $n) { nodes { code shortUrl qrCodeSvg } } }"
ONE_PAGE = "myShortUrls(first: 100) { nodes { qrCodeSvg } }"
# The attack: 2,000 QR codes in one request.
TWENTY_PAGES = "query { " + " ".join(f"a{n}: {ONE_PAGE}" for n in range(20)) + " }"


def svg_as_before(data: str) -> str:
    """The SVG `qrCodeSvg` has always answered."""
    return segno.make(data, error="m").svg_inline(scale=4, border=2)


async def make_links(services: AppState, owner: SignedIn, count: int) -> None:
    owner_id = pk_of(owner.id, "User")
    assert owner_id is not None
    async with services.sessionmaker.begin() as session:
        session.add_all(
            ShortUrl(
                code=f"qr{n}x{time.monotonic_ns()}",
                target_url="https://example.com/",
                owner_id=owner_id,
            )
            for n in range(count)
        )


async def test_twenty_pages_of_qr_codes_are_refused_by_the_cost_limit(alice: SignedIn) -> None:
    body = await alice.client.execute(TWENTY_PAGES)
    assert body["data"] is None
    assert error_codes(body) == ["QUERY_LIMIT_EXCEEDED"]
    assert body["errors"][0]["extensions"]["limit"] == "cost"
    # One such page is cheap enough.
    assert "errors" not in await alice.client.execute(f"query {{ {ONE_PAGE} }}")


async def test_a_page_of_links_answers_their_qr_codes_as_before(
    http: httpx.AsyncClient, services: AppState, alice: SignedIn
) -> None:
    await make_links(services, alice, 20)
    whole = await alice.client.post(PAGE, {"n": 20})
    fast = await alice.client.post(PAGE, {"n": 20})  # the fast path, from the plan
    assert fast.content == whole.content
    nodes: list[dict[str, Any]] = whole.json()["data"]["myShortUrls"]["nodes"]
    assert len(nodes) == 20
    for node in nodes:
        assert node["qrCodeSvg"] == svg_as_before(node["shortUrl"])
        assert (await http.get(f"/{node['code']}/qr.svg")).text == node["qrCodeSvg"]


async def test_qr_codes_are_drawn_off_the_event_loop_and_once(
    services: AppState, alice: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []

    def draw(data: str) -> str:
        threads.append(threading.current_thread())
        return svg_as_before(data)

    monkeypatch.setattr(qr, "draw", draw)
    await make_links(services, alice, 5)
    twice = (
        "query { a: myShortUrls { nodes { qrCodeSvg } } b: myShortUrls { nodes { qrCodeSvg } } }"
    )
    first = await alice.client.data(twice)
    assert first["a"] == first["b"]
    assert len(threads) == 5  # the aliases wait for the same drawings
    assert threading.main_thread() not in threads
    assert await alice.client.data(twice) == first
    assert len(threads) == 5  # kept
