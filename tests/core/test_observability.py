"""/livez, /readyz and /metrics, in process (several workers: tests/e2e/test_workers.py)."""

from pathlib import Path

import httpx

from graphql_api.app import create_app
from graphql_api.state import AppState
from tests.chat.test_chat_events import subscribe
from tests.support.chat import create_room
from tests.support.client import grew, metrics
from tests.support.settings import settings_for_tests
from tests.support.users import SignedIn

ITEMS = "query Items { items(first: 2) { nodes { id } } }"
USERS = "query Users { users { nodes { id } } }"  # signed-in only: UNAUTHENTICATED


async def test_livez_and_readyz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/livez")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "database": "up",
        "migrations": "applied",
        "broker": "up",
    }


async def ready_of(tmp_path: Path, database_url: str) -> httpx.Response:
    app = create_app(settings_for_tests(database_url, tmp_path))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.get("/livez")).status_code == 200  # alive, if not ready
            return await http.get("/readyz")


async def test_readyz_is_503_while_the_database_is_unreachable(tmp_path: Path) -> None:
    ready = await ready_of(tmp_path, "postgresql://postgres@127.0.0.1:9/test")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "database": "down",
        "migrations": "unknown",
        "broker": "up",
    }


async def test_readyz_is_503_until_the_migrations_are_applied(tmp_path: Path) -> None:
    ready = await ready_of(tmp_path, f"sqlite:///{tmp_path / 'new.db'}")
    assert ready.status_code == 503
    assert ready.json()["migrations"] == "pending"


async def test_metrics_count_operations_errors_and_redirects(
    http: httpx.AsyncClient, alice: SignedIn
) -> None:
    before = await metrics(http)
    for _ in range(3):  # the whole way, then the fast path
        assert "errors" not in (await http.post("/graphql", json={"query": ITEMS})).json()
    await http.post("/graphql", json={"query": USERS})
    assert (await http.get("/no-such-code")).status_code == 404
    after = await metrics(http)

    assert grew(before, after, "graphql_api_operations_total", operation="Items", type="query") == 3
    assert grew(before, after, "graphql_api_operations_total", operation="Users", type="query") == 1
    assert grew(before, after, "graphql_api_errors_total", code="UNAUTHENTICATED") == 1
    assert grew(before, after, "graphql_api_redirects_total", status="404") == 1
    count = grew(
        before,
        after,
        "graphql_api_operation_duration_seconds_count",
        operation="Items",
        type="query",
    )
    assert count == 3


async def test_metrics_show_open_subscriptions(
    http: httpx.AsyncClient, services: AppState, alice: SignedIn
) -> None:
    await create_room(alice, "general")
    key = ("graphql_api_active_subscriptions", (("field", "chatEvents"),))
    before = (await metrics(http)).get(key, 0.0)
    events = await subscribe(services, alice)
    await anext(events)  # UserJoined: subscribed
    assert (await metrics(http))[key] == before + 1
    await events.aclose()
    assert (await metrics(http))[key] == before
