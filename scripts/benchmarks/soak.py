"""Soak: does graphql_api's memory stay flat under the same work again and again?

Run through `scripts/bench --soak`. One server, `graphql-api serve` with one worker (it
serves in the very process it starts; checked: that process holds the listening socket), on
a database seeded with the GraphQL workloads' data and the redirect benchmark's links. Each
round does the same, fixed amount of work (REQUESTS, times --soak-scale):
- queries: wrk sends a fixed number of each of the two read workloads (items, users) and
  `me` (limit.lua ends a run after that many answers);
- redirects: likewise, the hot link, then each of the 10,000 others twice, in random order
  (every.lua: random draws of 20,000 would leave one link in seven unvisited in round 1);
- subscriptions: --soak-cycles cycles of opening --soak-subscriptions WebSockets
  (graphql-transport-ws, signed in) subscribed to chatEvents in one room, sending setTyping
  until every one of them has heard it (then all are subscribed), sending one message and
  waiting until each has received it, then `complete` for each and closing its socket.
After each part, once the server is idle, its resident memory (VmRSS in /proc/PID/status).
Round 1 fills caches and pools; the growth that counts is that of the RSS at the end of a
round, from round 2 to the last, and it must stay below GROWTH_LIMIT_PERCENT. A subscriber
that does not receive its message has missed it.
"""

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import orjson
import redirect
import uvloop
from chat import SEND, TYPING, post, set_up, subscribe
from harness import api_command, free_port, listens_on, rss_kib, serve, settle, wrk
from wire import HttpClient, WebSocket
from workloads import WORKLOADS, answer, register

GROWTH_LIMIT_PERCENT = 5.0
# The work of one round (times --soak-scale): requests (wrk, about 4 s each at the time of
# writing), in two parts after each of which the RSS is read, then the subscription cycles.
REQUESTS = {
    "items": 600,
    "users": 300,
    "me": 1_200,
    "redirect hot": 40_000,
    "redirect spread": 20_000,
}
PARTS = {"queries": ("items", "users", "me"), "redirects": ("redirect hot", "redirect spread")}
WRK_CAP_SECONDS = 300
CONNECT_CONCURRENCY = 64
WAIT_SECONDS = 30.0


async def until_event(websocket: WebSocket, typename: str) -> dict[str, Any]:
    """The next chatEvents event of type `typename` on this subscription (others skipped)."""
    while True:
        message = orjson.loads(await websocket.recv())
        if message.get("type") != "next":
            raise RuntimeError(f"the subscription ended: {message}")
        event: dict[str, Any] = message["payload"]["data"]["chatEvents"]
        if event["__typename"] == typename:
            return event


async def subscription_cycle(url: str, tokens: list[str], room: str, n: int, tag: str) -> int:
    """Open n subscriptions, deliver one message to each, end them; how many missed it."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    subscriber, sender_token = tokens
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one() -> WebSocket:
        async with limit:
            return await subscribe(ws_url, subscriber, room)

    websockets = await asyncio.gather(*(open_one() for _ in range(n)))
    sender = HttpClient(url, {"Authorization": f"Bearer {sender_token}"})
    try:
        listening = {asyncio.ensure_future(until_event(ws, "UserTyping")) for ws in websockets}
        deadline = time.monotonic() + WAIT_SECONDS
        while listening and time.monotonic() < deadline:
            await post(sender, TYPING, {"room": room, "typing": True})
            _, listening = await asyncio.wait(listening, timeout=1.0)
        if listening:
            raise SystemExit(f"after {WAIT_SECONDS:.0f} s, {len(listening)} of {n} not listening")
        await post(sender, SEND, {"room": room, "text": tag})
        received = await asyncio.gather(
            *(asyncio.wait_for(until_event(ws, "MessageSent"), WAIT_SECONDS) for ws in websockets),
            return_exceptions=True,
        )
        missed = sum(
            1
            for event in received
            if isinstance(event, BaseException) or event["message"]["text"] != tag
        )
    finally:
        await sender.close()
    for websocket in websockets:
        websocket.send(orjson.dumps({"id": "1", "type": "complete"}).decode())
    await asyncio.gather(*(ws.close() for ws in websockets))
    return missed


async def subscription_cycles(
    url: str, tokens: list[str], room: str, cycles: int, n: int, round_: int
) -> int:
    missed = 0
    for cycle in range(cycles):
        missed += await subscription_cycle(url, tokens, room, n, f"soak-{round_}-{cycle}")
    return missed


def run(
    env: dict[str, str],
    work: Path,
    rounds: int,
    scale: float,
    connections: int,
    subscriptions: int,
    cycles: int,
) -> dict[str, Any]:
    """The soak on a database seeded with workloads.seed() and redirect.seed(): per round the
    requests/s of each wrk run and the server's RSS after each part; the growth of the RSS
    at the end of a round from round 2 to the last."""
    port = free_port()
    counts = {name: max(1, round(n * scale)) for name, n in REQUESTS.items()}
    rows: list[dict[str, Any]] = []
    with serve(api_command(port), env, port, work / "soak.log") as api:
        if not listens_on(api.pid, port):
            raise SystemExit(f"process {api.pid} does not hold the listening socket")
        token = register(api.url)
        browser = [redirect.USER_AGENT]
        requests: dict[str, tuple[str, list[str], list[str]]] = {}
        for workload in WORKLOADS:
            if workload.name in counts:
                answer(api.url, workload, token)
                script = workload.wrk_script(work, token)
                requests[workload.name] = (f"{api.url}/graphql", script, [])
        requests["redirect hot"] = (f"{api.url}/hot", [], browser)
        requests["redirect spread"] = (api.url, redirect.every_link_script(), browser)
        accounts, rooms = uvloop.run(set_up(api.url, 1, secrets.token_hex(3)))
        tokens, room = [account.token for account in accounts], rooms[0]
        settle([api.pid])
        start_kib = rss_kib(api.pid)
        print(
            f"soak: server pid {api.pid} (holds the listening socket), RSS at start "
            f"{start_kib / 1024:.1f} MiB; per round: "
            + ", ".join(f"{n:,} {name}" for name, n in counts.items())
            + f", {cycles} x {subscriptions} subscriptions",
            flush=True,
        )
        for round_ in range(1, rounds + 1):
            row: dict[str, Any] = {"round": round_, "requests": {}, "rss_kib_after": {}}
            for part, names in PARTS.items():
                for name in names:
                    url, script, headers = requests[name]
                    figures = wrk(url, WRK_CAP_SECONDS, connections, script, headers, counts[name])
                    row["requests"][name] = {"rps": figures["rps"], "errors": figures["errors"]}
                settle([api.pid])
                row["rss_kib_after"][part] = rss_kib(api.pid)
            row["missed"] = uvloop.run(
                subscription_cycles(api.url, tokens, room, cycles, subscriptions, round_)
            )
            settle([api.pid])
            row["rss_kib_after"]["subscriptions"] = row["rss_kib"] = rss_kib(api.pid)
            rows.append(row)
            print(
                f"soak round {round_}: RSS {row['rss_kib'] / 1024:.1f} MiB; "
                + ", ".join(f"{k} {v['rps']:,.0f}/s" for k, v in row["requests"].items())
                + f"; {row['missed']} subscribers missed their message",
                flush=True,
            )
    second, last = rows[1]["rss_kib"], rows[-1]["rss_kib"]
    return {
        "rounds": rows,
        "rss_start_kib": start_kib,
        "growth_percent": (last - second) / second * 100,
        "growth_limit_percent": GROWTH_LIMIT_PERCENT,
        "missed": sum(row["missed"] for row in rows),
        "errors": sum(r["errors"] for row in rows for r in row["requests"].values()),
        "requests_per_round": counts,
        "connections": connections,
        "subscriptions": subscriptions,
        "cycles": cycles,
    }


def print_report(report: dict[str, Any]) -> None:
    rows = report["rounds"]
    names = list(rows[0]["requests"])
    print(
        f"\n{'':<6}{'RSS MiB after':^30}{'requests/s':^{11 * len(names)}}{'':>7}\n"
        f"{'round':<6}{'queries':>10}{'redirects':>10}{'subscr.':>10}"
        + "".join(f"{name.removeprefix('redirect '):>11}" for name in names)
        + f"{'missed':>7}"
    )
    for row in rows:
        rss = row["rss_kib_after"]
        print(
            f"{row['round']:<6}"
            + "".join(f"{rss[part] / 1024:>10.1f}" for part in (*PARTS, "subscriptions"))
            + "".join(f"{row['requests'][name]['rps']:>11,.0f}" for name in names)
            + f"{row['missed']:>7}"
        )
    growth, limit = report["growth_percent"], report["growth_limit_percent"]
    verdict = "met" if growth < limit else "MISSED"
    print(
        f"\nRSS at the end of a round, growth from round 2 to round {len(rows)}: {growth:+.2f}% "
        f"(target < {limit:.0f}%: {verdict}); subscribers that missed their message: "
        f"{report['missed']}; failed requests: {report['errors']}"
    )
