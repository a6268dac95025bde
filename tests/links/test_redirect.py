"""GET|HEAD /{code}: every outcome, and what is recorded."""

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from graphql_api.core.broker import Broker, RedisBroker
from graphql_api.core.graphql.relay import from_global_id
from graphql_api.links.recorder import BATCH, CHUNK, PendingVisit, VisitRecorder
from tests.support.databases import StatementLog
from tests.support.links import BROWSER, GOOGLEBOT, SET_ACTIVE, SHORT_URL, UPDATE, shorten
from tests.support.users import SignedIn
from tests.support.wait import eventually

VISITS = """query($code: String!) { shortUrl(code: $code) {
  visitCount visits { totalCount nodes { referrer browser os device isBot visitedAt } } } }"""


async def follow(
    http: httpx.AsyncClient, code: str, method: str = "GET", **headers: str
) -> httpx.Response:
    headers.setdefault("User-Agent", BROWSER)
    return await http.request(method, f"/{code}", headers=headers)


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirect_with_the_link_status(
    http: httpx.AsyncClient, alice: SignedIn, status: int
) -> None:
    link = await shorten(alice, "https://example.com/target?x=1", redirectStatus=status)
    response = await follow(http, link["code"])
    assert response.status_code == status
    assert response.headers["location"] == "https://example.com/target?x=1"
    assert response.headers["cache-control"] == "no-store"


async def test_default_status_is_302_and_bodies_fit_the_client(
    http: httpx.AsyncClient, alice: SignedIn
) -> None:
    link = await shorten(alice, 'https://example.com/"<script>')
    browser = await follow(http, link["code"], Accept="text/html")
    assert browser.status_code == 302
    assert browser.headers["content-type"].startswith("text/html")
    assert "<script>" not in browser.text and "%3Cscript%3E" in browser.text
    api = await follow(http, link["code"], Accept="application/json")
    assert api.json() == {"location": link["targetUrl"]}


async def test_unknown_code_is_404(http: httpx.AsyncClient, services) -> None:  # type: ignore[no-untyped-def]
    response = await follow(http, "nope123", Accept="application/json")
    assert response.status_code == 404
    assert response.json() == {"error": "No link has this address."}


async def test_head_redirects_without_recording(
    http: httpx.AsyncClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    link = await shorten(alice)
    response = await follow(http, link["code"], "HEAD")
    assert response.status_code == 302 and response.headers["location"]
    await services.links.recorder.flush()
    data = await alice.client.data(VISITS, {"code": link["code"]})
    assert data["shortUrl"]["visits"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"validSince": iso(timedelta(hours=1))}, "not valid yet"),
        ({"expiresAt": iso(timedelta(seconds=-1))}, "expired"),
    ],
)
async def test_gone_when_out_of_its_validity(
    http: httpx.AsyncClient, alice: SignedIn, settings: dict[str, str], reason: str
) -> None:
    link = await shorten(alice, **settings)
    for method in ("GET", "HEAD"):
        response = await follow(http, link["code"], method, Accept="application/json")
        assert response.status_code == 410
    assert reason in (await follow(http, link["code"], Accept="application/json")).json()["error"]


async def test_gone_when_disabled_and_back_when_enabled(
    http: httpx.AsyncClient, alice: SignedIn
) -> None:
    link = await shorten(alice)
    assert (await follow(http, link["code"])).status_code == 302  # now cached
    await alice.client.mutate(SET_ACTIVE, {"code": link["code"], "active": False})
    response = await follow(http, link["code"], Accept="application/json")
    assert response.status_code == 410
    assert response.json() == {"error": "This link has been disabled."}
    await alice.client.mutate(SET_ACTIVE, {"code": link["code"], "active": True})
    assert (await follow(http, link["code"])).status_code == 302


async def test_update_is_seen_by_the_next_redirect(
    http: httpx.AsyncClient, alice: SignedIn
) -> None:
    link = await shorten(alice)
    assert (await follow(http, link["code"])).headers["location"] == "https://example.com/page"
    await alice.client.mutate(
        UPDATE, {"code": link["code"], "url": "https://example.org/new", "redirectStatus": 308}
    )
    response = await follow(http, link["code"])
    assert (response.status_code, response.headers["location"]) == (308, "https://example.org/new")


async def test_used_up_after_max_visits_and_bots_do_not_count(
    http: httpx.AsyncClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    link = await shorten(alice, maxVisits=2)
    assert (await follow(http, link["code"], **{"User-Agent": GOOGLEBOT})).status_code == 302
    assert (await follow(http, link["code"])).status_code == 302
    assert (await follow(http, link["code"])).status_code == 302
    used_up = await follow(http, link["code"], Accept="application/json")
    assert used_up.status_code == 410
    assert "maximum number of visits" in used_up.json()["error"]
    bot_after = await follow(http, link["code"], **{"User-Agent": GOOGLEBOT})
    assert bot_after.status_code == 410
    await services.links.recorder.flush()
    data = await alice.client.data(VISITS, {"code": link["code"]})
    assert data["shortUrl"]["visitCount"] == 2
    assert data["shortUrl"]["visits"]["totalCount"] == 3  # two people and one bot
    # Raising the cap revives the link.
    await alice.client.mutate(UPDATE, {"code": link["code"], "maxVisits": 3})
    assert (await follow(http, link["code"])).status_code == 302


async def test_concurrent_visits_of_a_capped_link_are_reserved_together(
    http: httpx.AsyncClient, alice: SignedIn, services, sql_statements: StatementLog
) -> None:  # type: ignore[no-untyped-def]
    link = await shorten(alice, maxVisits=60)
    assert (await follow(http, link["code"])).status_code == 302  # cached now
    sql_statements.clear()
    responses = await asyncio.gather(*(follow(http, link["code"]) for _ in range(99)))
    assert Counter(r.status_code for r in responses) == {302: 59, 410: 40}
    # One write per round trip, not per redirect (there were 99): on SQLite every other
    # writer queued behind them.
    reservations = [s for s in sql_statements.statements if s.startswith("UPDATE short_urls")]
    assert len(reservations) <= 10, reservations
    await services.links.recorder.flush()
    data = await alice.client.data(VISITS, {"code": link["code"]})
    assert (data["shortUrl"]["visitCount"], data["shortUrl"]["visits"]["totalCount"]) == (60, 60)


async def test_a_redirect_that_finds_no_room_in_time_is_refused(
    http: httpx.AsyncClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    link = await shorten(alice)
    runtime = services.links
    kept = runtime.recorder
    # Room for one visit, and no flusher to make more: the database "never" keeps up.
    runtime.recorder = VisitRecorder(services.sessionmaker, services.broker, capacity=1, wait=0.1)
    try:
        assert (await follow(http, link["code"])).status_code == 302
        refused = await follow(http, link["code"], Accept="application/json")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "try again" in refused.json()["error"]
        assert runtime.recorder.pending == 1  # the refused visit was not kept
        await runtime.recorder.flush()
    finally:
        runtime.recorder = kept
    data = await alice.client.data(VISITS, {"code": link["code"]})
    assert data["shortUrl"]["visitCount"] == 1


async def test_visit_is_recorded_with_its_agent(
    http: httpx.AsyncClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    link = await shorten(alice)
    await follow(http, link["code"], Referer="https://news.example/item?id=1")
    await follow(http, link["code"], **{"User-Agent": GOOGLEBOT})
    await services.links.recorder.flush()
    data = await alice.client.data(VISITS, {"code": link["code"]})
    assert data["shortUrl"]["visitCount"] == 1
    bot, person = data["shortUrl"]["visits"]["nodes"]  # newest first
    assert (
        person["referrer"],
        person["browser"],
        person["os"],
        person["device"],
        person["isBot"],
    ) == ("https://news.example/item?id=1", "Chrome", "Windows", "desktop", False)
    assert (bot["isBot"], bot["device"]) == (True, "bot")


async def test_visits_are_for_the_owner_only(
    http: httpx.AsyncClient, alice: SignedIn, bob: SignedIn, admin: SignedIn
) -> None:
    link = await shorten(alice)
    seen_by_bob = await bob.client.data(VISITS, {"code": link["code"]})
    assert seen_by_bob["shortUrl"]["visits"] is None
    assert seen_by_bob["shortUrl"]["visitCount"] == 0
    assert (await admin.client.data(VISITS, {"code": link["code"]}))["shortUrl"]["visits"] == {
        "totalCount": 0,
        "nodes": [],
    }


@pytest.mark.parametrize("path", ["/graphql", "/livez", "/readyz"])
async def test_redirect_never_shadows_the_server_routes(
    http: httpx.AsyncClient, path: str, services
) -> None:  # type: ignore[no-untyped-def]
    response = await http.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200


async def test_qr_code(http: httpx.AsyncClient, alice: SignedIn) -> None:
    link = await shorten(alice)
    response = await http.get(f"/{link['code']}/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.text.startswith("<svg")
    graphql = await alice.client.data(
        "query($c: String!) { shortUrl(code: $c) { qrCodeSvg } }", {"c": link["code"]}
    )
    assert graphql["shortUrl"]["qrCodeSvg"] == response.text
    assert (await http.get("/nope123/qr.svg")).status_code == 404
    short = await alice.client.data(SHORT_URL, {"code": link["code"]})
    assert short["shortUrl"]["code"] == link["code"]


async def test_visits_of_a_deleted_link_do_not_block_the_others(
    http: httpx.AsyncClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    from tests.support.links import DELETE

    doomed, kept = await shorten(alice), await shorten(alice)
    await follow(http, doomed["code"])
    await follow(http, kept["code"])
    await alice.client.mutate(DELETE, {"code": doomed["code"]})
    await services.links.recorder.flush()
    assert services.links.recorder.pending == 0
    data = await alice.client.data(VISITS, {"code": kept["code"]})
    assert data["shortUrl"]["visitCount"] == 1
    assert (await follow(http, doomed["code"])).status_code == 404


async def test_a_change_announced_by_another_process_is_seen(
    http: httpx.AsyncClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from graphql_api.links.redirect import LINKS_CHANGED

    link = await shorten(alice)
    assert (await follow(http, link["code"])).status_code == 302  # cached now
    async with services.engine.begin() as conn:  # as another worker would write it
        await conn.execute(text("UPDATE short_urls SET is_active = false"))
    assert (await follow(http, link["code"])).status_code == 302  # still the cached copy
    await services.broker.publish(LINKS_CHANGED, {"code": link["code"]})
    # The follower drops the entry as it hears the message (the cache would keep it a minute).
    await eventually(
        lambda: link["code"] in services.links.cache._entries, lambda cached: not cached
    )
    assert (await follow(http, link["code"])).status_code == 410


async def test_a_load_that_began_before_a_change_is_not_kept(services, alice: SignedIn) -> None:  # type: ignore[no-untyped-def]
    from graphql_api.links.cache import LinkCache

    link = await shorten(alice)
    cache = LinkCache(services.sessionmaker)
    loaded, release = asyncio.Event(), asyncio.Event()
    load = cache._load

    async def slow_load(codes: list[str]):  # type: ignore[no-untyped-def]
        found = await load(codes)  # read before the change commits...
        loaded.set()
        await release.wait()
        return found

    cache._load = slow_load  # type: ignore[method-assign]
    pending = asyncio.create_task(cache.get(link["code"]))
    await asyncio.wait_for(loaded.wait(), 5)
    cache.invalidate(link["code"])  # ...a change lands meanwhile
    release.set()
    assert (await pending) is not None
    assert link["code"] not in cache._entries  # the stale copy was not stored


COUNTS = """query($code: String!) { shortUrl(code: $code) { visitCount visits { totalCount } } }"""


def idle_recorder(services, broker: Broker | None = None) -> VisitRecorder:  # type: ignore[no-untyped-def]
    """A recorder with room for a large backlog and no flusher of its own: the test flushes."""
    return VisitRecorder(services.sessionmaker, broker or services.broker, capacity=3 * BATCH)


async def backlog(
    alice: SignedIn, recorder: VisitRecorder, n: int
) -> tuple[str, list[PendingVisit]]:
    """A link, and n visits of it waiting in the recorder (as after a burst of redirects)."""
    link = await shorten(alice)
    _, link_id = from_global_id(link["id"])
    visits = [PendingVisit(link_id, datetime.now(UTC), None, BROWSER, False) for _ in range(n)]
    for visit in visits:
        assert await recorder.record(visit)
    return link["code"], visits


async def test_a_backlog_is_written_a_batch_per_transaction(services, alice: SignedIn) -> None:  # type: ignore[no-untyped-def]
    n = 2 * BATCH + 1
    recorder = idle_recorder(services)
    code, _ = await backlog(alice, recorder, n)
    commits = 0

    def committed(connection: object) -> None:
        nonlocal commits
        commits += 1

    engine = services.engine.sync_engine
    event.listen(engine, "commit", committed)
    try:
        await recorder.flush()
    finally:
        event.remove(engine, "commit", committed)
    assert commits == 3
    assert recorder.pending == 0
    data = await alice.client.data(COUNTS, {"code": code})
    assert data["shortUrl"] == {"visitCount": n, "visits": {"totalCount": n}}


async def test_flushes_of_any_size_send_few_shapes_of_insert(services, alice: SignedIn) -> None:  # type: ignore[no-untyped-def]
    """Each connection keeps the statements it prepared: flushes of 1 to 40 visits, and of
    CHUNK + 3, send INSERTs of 7 shapes (the powers of two to 32, and CHUNK) rather than
    one per size."""
    recorder = idle_recorder(services)
    code, _ = await backlog(alice, recorder, 0)
    link = await alice.client.data(SHORT_URL, {"code": code})
    _, link_id = from_global_id(link["shortUrl"]["id"])
    inserts: list[str] = []

    def sent(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO VISITS"):
            inserts.append(statement)

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", sent)
    try:
        for n in [*range(1, 41), CHUNK + 3]:
            for _ in range(n):
                assert await recorder.record(
                    PendingVisit(link_id, datetime.now(UTC), None, BROWSER, False)
                )
            await recorder.flush()
    finally:
        event.remove(engine, "before_cursor_execute", sent)
    assert len(set(inserts)) == 7
    total = sum(range(1, 41)) + CHUNK + 3
    data = await alice.client.data(COUNTS, {"code": code})
    assert data["shortUrl"] == {"visitCount": total, "visits": {"totalCount": total}}


async def test_a_failed_batch_leaves_only_the_unwritten_visits_buffered(
    services, alice: SignedIn
) -> None:  # type: ignore[no-untyped-def]
    recorder = idle_recorder(services)
    code, visits = await backlog(alice, recorder, 2 * BATCH)
    broken = visits[BATCH + 1]
    broken.visited_at = None  # type: ignore[assignment]  # NOT NULL: the second batch fails
    with pytest.raises(IntegrityError):
        await recorder.flush()
    assert recorder.pending == BATCH
    assert (await alice.client.data(COUNTS, {"code": code}))["shortUrl"]["visitCount"] == BATCH
    broken.visited_at = datetime.now(UTC)
    await recorder.flush()  # the next try writes the rest, and nothing twice
    data = await alice.client.data(COUNTS, {"code": code})
    assert data["shortUrl"] == {"visitCount": 2 * BATCH, "visits": {"totalCount": 2 * BATCH}}


async def test_visits_are_recorded_while_the_broker_is_down(
    services, alice: SignedIn, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    broker = RedisBroker("redis://127.0.0.1:1/0")  # a real client; no server listens there
    recorder = idle_recorder(services, broker)
    try:
        code, _ = await backlog(alice, recorder, BATCH + 1)
        await recorder.flush()  # the live events are lost, the visits are not
    finally:
        await broker.close()
    assert recorder.pending == 0
    data = await alice.client.data(COUNTS, {"code": code})
    assert data["shortUrl"] == {"visitCount": BATCH + 1, "visits": {"totalCount": BATCH + 1}}
    assert f"publishing {BATCH} visits failed" in caplog.text
