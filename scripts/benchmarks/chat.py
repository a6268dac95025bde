"""Chat fan-out benchmark: each message to 10, 100 and 1,000 subscribers, bare vs. graphql_api.

Run through `scripts/bench-chat`, or as part of `scripts/bench` (suite.py calls
measure()). One harness drives two servers:
- graphql_api as shipped: `graphql-api serve`, one worker, a fresh SQLite file and the
  memory broker (or --database-url / --broker-url). Every subscriber has a WebSocket of
  its own (graphql-transport-ws, token in connection_init) subscribed to `chatEvents(room:)`
  for `__typename ... on MessageSent { message { id text } }`; messages go out through the
  `sendMessage` mutation over HTTP from another user. The subscribers sign in as --users
  accounts in turn (default 1: a user's first subscription announces UserJoined to the
  whole room, so N distinct users joining at once cost N*N/2 events before anything is
  measured).
- the baseline, bare_chat.py under uvicorn: plain WebSockets, and a POST that writes the
  same `next` frame bytes graphql_api sends to every socket, one after the other.

For each size N: connect N subscribers, send setTyping until every subscriber has heard it
(then all are subscribed), send M messages (--messages, default 100 and at least 10,000
deliveries: 1,000 messages to 10 subscribers), wait until every subscriber has them all,
and send setTyping once more until all have heard it (a duplicate would come before it).

Sending policy: one sender in the main process posts the M messages back to back on one
keep-alive HTTP connection. Each send waits for the HTTP answer (graphql_api: the message
stored, committed and published) but never for delivery, so the figures show how fast a
server fans out, not how fast someone types. Load generator: the subscribers are spread
round-robin over --clients worker processes (default 2), each one uvloop event loop with
one WebSocket per subscriber, without compression (wire.py: lean clients, so that the
load generator takes as little of the machine's CPU as it can). Latency is the receipt
in a worker minus the moment just before the send request; both are time.monotonic_ns
(CLOCK_MONOTONIC: one clock for all processes on Linux). Throughput is N*M over the time
from the first send to the last receipt. A message missing at a subscriber is lost, one
received twice duplicated; either, or a frame that is not the baseline's text frame (other
bytes, or a binary frame), makes the exit status 1. Rounds are interleaved (bare,
graphql_api, bare, ...); figures are medians.
"""

import argparse
import asyncio
import json
import multiprocessing
import secrets
import shutil
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import orjson
import uvloop
from bare_chat import message_frame
from harness import (
    api_command,
    cpu_seconds,
    database_kind,
    free_port,
    machine_cpu_seconds,
    medians,
    migrate,
    raise_fd_limit,
    serve,
    server_env,
    settle,
    uvicorn_command,
)
from wire import HttpClient, WebSocket, connect

SERVERS = ("bare", "graphql_api")
CONNECT_CONCURRENCY = 64
READY_SECONDS = 120.0  # at most this long for all subscribers to be listening
SUBSCRIPTION = (
    "subscription($room: String!) { chatEvents(room: $room) "
    "{ __typename ... on MessageSent { message { id text } } } }"
)
SEND = (
    "mutation($input: SendMessageInput!) "
    "{ sendMessage(input: $input) { message { id } userErrors { message } } }"
)
TYPING = (
    "mutation($input: SetTypingInput!) { setTyping(input: $input) { ok userErrors { message } } }"
)
REGISTER = (
    "mutation($input: RegisterInput!) "
    "{ register(input: $input) { accessToken userErrors { message } } }"
)
CREATE_ROOM = (
    "mutation($input: CreateChatRoomInput!) "
    "{ createChatRoom(input: $input) { chatRoom { id } userErrors { message } } }"
)


# --- the client processes -------------------------------------------------------------


async def subscribe(url: str, token: str, room: str) -> WebSocket:
    """A graphql-transport-ws WebSocket at `url`, signed in with `token`, subscribed (as
    operation "1") to SUBSCRIPTION in `room`."""
    websocket = await connect(url, "graphql-transport-ws")
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    websocket.send(orjson.dumps(init).decode())
    ack = orjson.loads(await websocket.recv())
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    payload = {"query": SUBSCRIPTION, "variables": {"room": room}}
    websocket.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
    return websocket


@dataclass
class Subscriber:
    websocket: WebSocket
    received: list[int] = field(default_factory=list)  # per message: first receipt, or 0
    heard_typing: bool = False
    ended: str | None = None  # what the server said when it ended the subscription


class Worker:
    """Holds a share of the subscribers; obeys the main process's commands over a pipe."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe = pipe
        self.subscribers: list[Subscriber] = []
        self.closing = False
        self.tag = ""
        self.messages = 0
        self.count = 0  # distinct (subscriber, message) receipts of this batch
        self.duplicates = 0
        self.strays = 0  # messages of no batch being measured
        self.mismatched = 0  # frames that are not the text frame the baseline sends
        self.heard = 0
        self.progress = asyncio.Event()
        self.cpu_start = 0.0

    async def run(self) -> None:
        while True:
            command, *args = await asyncio.to_thread(self.pipe.recv)
            if command == "exit":
                return
            try:
                result = await getattr(self, command)(*args)
            except Exception:
                self.pipe.send(("error", traceback.format_exc()))
            else:
                self.pipe.send(("ok", result))

    async def connect(self, kind: str, url: str, tokens: list[str], room: str) -> None:
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def open_one(token: str) -> Subscriber:
            async with limit:
                if kind == "graphql_api":
                    websocket = await subscribe(url, token, room)
                else:
                    websocket = await connect(url)
                subscriber = Subscriber(websocket)
                websocket.on_message = partial(self.on_frame, subscriber)
                websocket.closed.add_done_callback(partial(self.on_closed, subscriber))
                return subscriber

        self.subscribers = list(await asyncio.gather(*(open_one(t) for t in tokens)))

    def on_closed(self, subscriber: Subscriber, closed: "asyncio.Future[int | None]") -> None:
        if not self.closing:
            error = subscriber.websocket.error or ""
            subscriber.ended = subscriber.ended or f"connection closed ({closed.result()}) {error}"

    def on_frame(self, subscriber: Subscriber, frame: str | bytes, now: int) -> None:
        message = orjson.loads(frame)
        if message.get("type") != "next" or not message["payload"].get("data"):
            subscriber.ended = str(message)  # an error: the subscription is over
            return
        event = message["payload"]["data"]["chatEvents"]
        typename = event["__typename"]
        if typename == "UserTyping":
            if not subscriber.heard_typing:
                subscriber.heard_typing = True
                self.heard += 1
                self.progress.set()
            return
        if typename != "MessageSent":
            return  # UserJoined, UserLeft, ...: not measured
        sent = event["message"]
        if frame != message_frame(sent["id"], sent["text"]):  # a binary frame never matches
            self.mismatched += 1
        tag, _, seq = sent["text"].rpartition(":")
        index = int(seq) if tag == self.tag else -1
        if not 0 <= index < self.messages:
            self.strays += 1
        elif subscriber.received[index]:
            self.duplicates += 1
        else:
            subscriber.received[index] = now
            self.count += 1
            if self.count == len(self.subscribers) * self.messages:
                self.progress.set()

    async def reset_typing(self) -> None:
        for subscriber in self.subscribers:
            subscriber.heard_typing = False
        self.heard = 0

    async def wait_typing(self, seconds: float) -> tuple[int, list[str]]:
        """Wait (up to `seconds`) until every subscriber has heard a UserTyping frame."""
        deadline = time.monotonic() + seconds
        while self.heard < len(self.subscribers) and time.monotonic() < deadline:
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return self.heard, [s.ended for s in self.subscribers if s.ended]

    async def expect(self, tag: str, messages: int) -> None:
        self.tag, self.messages = tag, messages
        self.count = self.duplicates = self.strays = self.mismatched = 0
        for subscriber in self.subscribers:
            subscriber.received = [0] * messages
        self.cpu_start = time.process_time()

    async def collect(self, idle_timeout: float) -> float:
        """Wait until every subscriber has every message, or nothing came for a while."""
        target = len(self.subscribers) * self.messages
        while self.count < target:
            before = self.count
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), idle_timeout)
            except TimeoutError:
                if self.count == before:
                    break
        return time.process_time() - self.cpu_start

    async def report(self) -> dict[str, Any]:
        return {
            "received": [s.received for s in self.subscribers],
            "duplicates": self.duplicates,
            "strays": self.strays,
            "mismatched": self.mismatched,
            "ended": [s.ended for s in self.subscribers if s.ended],
        }

    async def close(self) -> None:
        self.closing = True
        await asyncio.gather(*(s.websocket.close() for s in self.subscribers))
        self.subscribers, self.closing = [], False


def worker_main(pipe: Connection) -> None:
    uvloop.run(Worker(pipe).run())


# --- the main process -----------------------------------------------------------------


@dataclass
class Target:
    kind: str  # "bare" or "graphql_api"
    url: str
    pid: int


class Harness:
    """The sender, and the worker processes that hold the subscribers."""

    def __init__(
        self, pipes: list[Connection], tokens: list[str], sender: str, room: str, logs: Path
    ) -> None:
        self.pipes = pipes
        self.logs = logs
        self.tokens = tokens  # the subscribers' accounts, taken in turn
        self.sender = sender
        self.room = room

    async def call(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send each worker its command; their answers, once all have answered."""
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        answers = await asyncio.gather(*(asyncio.to_thread(p.recv) for p in self.pipes))
        for status, value in answers:
            if status != "ok":
                raise SystemExit(f"a client process failed (server logs: {self.logs}):\n{value}")
        return [value for _, value in answers]

    async def call_all(self, *command: Any) -> list[Any]:
        return await self.call([command] * len(self.pipes))

    async def until_all_hear_typing(
        self, sender: HttpClient, n: int, *, ended_ok: bool = False
    ) -> None:
        """Send setTyping until every subscriber has heard one (or, if ended_ok, has ended)."""
        await self.call_all("reset_typing")
        deadline = time.monotonic() + READY_SECONDS
        while True:
            await post(sender, TYPING, {"room": self.room, "typing": True})
            answers = await self.call_all("wait_typing", 1.0)
            heard = sum(a[0] for a in answers)
            ended = [e for a in answers for e in a[1]]
            if ended and not ended_ok:
                raise SystemExit(f"{len(ended)} subscriptions ended, e.g.: {ended[0]}")
            if heard + len(ended) >= n:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"after {READY_SECONDS:.0f} s only {heard} of {n} listen")

    async def measure(
        self, target: Target, n: int, messages: int, tag: str, idle_timeout: float
    ) -> dict[str, Any]:
        """One size on one server: connect, wait until all listen, send, collect, close."""
        ws_url = target.url.replace("http://", "ws://") + "/graphql"
        workers = len(self.pipes)
        tokens = [self.tokens[i % len(self.tokens)] for i in range(n)]
        shares = [tokens[i::workers] for i in range(workers)]
        await self.call([("connect", target.kind, ws_url, s, self.room) for s in shares])
        sender = HttpClient(target.url, {"Authorization": f"Bearer {self.sender}"})
        try:
            await self.until_all_hear_typing(sender, n)
            await self.call_all("expect", tag, messages)
            server_cpu = cpu_seconds(target.pid)
            sender_cpu = time.process_time()
            machine_cpu = machine_cpu_seconds()
            sends: list[int] = []
            for i in range(messages):
                sends.append(time.monotonic_ns())
                await post(sender, SEND, {"room": self.room, "text": f"{tag}:{i}"})
            done = time.monotonic_ns()
            sending = done - sends[0]
            slowest_send = max(b - a for a, b in zip(sends, [*sends[1:], done], strict=True))
            client_cpu = sum(await self.call_all("collect", idle_timeout))
            window = time.monotonic_ns() - sends[0]
            server_cpu = cpu_seconds(target.pid) - server_cpu
            sender_cpu = time.process_time() - sender_cpu
            other_cpu = machine_cpu_seconds() - machine_cpu - server_cpu - client_cpu - sender_cpu
            # A late duplicate would come before this; a subscription cut off counts as lost.
            await self.until_all_hear_typing(sender, n, ended_ok=True)
        finally:
            await sender.close()
        reports = await self.call_all("report")
        await self.call_all("close")

        latencies: list[int] = []
        last = 0
        for report in reports:
            for received in report["received"]:
                for sent, got in zip(sends, received, strict=True):
                    if got:
                        latencies.append(got - sent)
                        last = max(last, got)
        latencies.sort()
        delivered = len(latencies)
        elapsed = (last - sends[0]) / 1e9 if delivered else float("nan")
        return {
            "delivered": delivered,
            "lost": n * messages - delivered,
            "duplicated": sum(r["duplicates"] for r in reports),
            "strays": sum(r["strays"] for r in reports),
            "mismatched": sum(r["mismatched"] for r in reports),
            "ended": sum(len(r["ended"]) for r in reports),
            "elapsed_s": elapsed,
            "per_s": delivered / elapsed if delivered else 0.0,
            "p50_ms": percentile(latencies, 0.50) / 1e6,
            "p99_ms": percentile(latencies, 0.99) / 1e6,
            "sent_per_s": messages / (sending / 1e9),
            "slowest_send_ms": slowest_send / 1e6,
            "server_cpu": server_cpu / (window / 1e9),
            "clients_cpu": client_cpu / (window / 1e9),
            "sender_cpu": sender_cpu / (window / 1e9),
            "other_cpu": max(0.0, other_cpu) / (window / 1e9),
        }


def percentile(ordered: list[int], q: float) -> float:
    if not ordered:
        return float("nan")
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


async def post(client: HttpClient, query: str, input_: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation; its payload (the one field under `data`). Any error ends the run."""
    request = orjson.dumps({"query": query, "variables": {"input": input_}})
    status, answer = await client.post("/graphql", request)
    body = orjson.loads(answer) if status == 200 else {}
    data = body.get("data") or {}
    payload: dict[str, Any] = next(iter(data.values()), {}) or {}
    if body.get("errors") or not payload or payload.get("userErrors"):
        raise SystemExit(f"{query.split('(')[0]} failed: {status} {answer.decode()}")
    return payload


async def set_up(url: str, users: int, run_id: str) -> tuple[list[str], str]:
    """Register `users` subscribers and a sender (its token last); create the room."""
    limit = asyncio.Semaphore(8)

    async def register(name: str) -> str:
        async with limit:
            client = HttpClient(url, {})
            fields = {"email": f"{name}@example.com", "username": name, "password": "x" * 12}
            try:
                return str((await post(client, REGISTER, fields))["accessToken"])
            finally:
                await client.close()

    names = [f"b{run_id}-{i}" for i in range(users)] + [f"b{run_id}-sender"]
    tokens = list(await asyncio.gather(*(register(name) for name in names)))
    client = HttpClient(url, {"Authorization": f"Bearer {tokens[-1]}"})
    room = f"bench-{run_id}"
    await post(client, CREATE_ROOM, {"name": room})
    await client.close()
    return tokens, room


def messages_for(messages: int | None, n: int) -> int:
    """`messages`, or 100 and at least enough for 10,000 deliveries."""
    return int(messages or max(100, -(-10_000 // n)))


FIGURES = ("per_s", "sent_per_s", "p50_ms", "p99_ms", "server_cpu", "clients_cpu", "other_cpu")
TROUBLE = ("lost", "duplicated", "strays", "mismatched", "ended")


async def bench(
    env: dict[str, str],
    work: Path,
    sizes: list[int],
    rounds: int,
    messages: int | None,
    clients: int,
    users: int,
    idle_timeout: float,
) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Every round's figures, per server and size."""
    api_port, bare_port = free_port(), free_port()
    run_id = secrets.token_hex(3)
    # Signing up the --users accounts is set-up: past 5 a minute from one address it was
    # refused (RATE_LIMITED).
    env = {**env, "GRAPHQL_API_RATE_LIMIT_REGISTER_PER_ADDRESS": "100000/minute"}
    with serve(api_command(api_port), env, api_port, work / "api.log") as api:
        users = min(users, max(sizes))
        print(f"registering {users} subscriber accounts and a sender ...", flush=True)
        tokens, room = await set_up(api.url, users, run_id)
        sender = tokens.pop()
        context = multiprocessing.get_context("spawn")
        pipes: list[Connection] = []
        processes: list[BaseProcess] = []
        for _ in range(clients):
            ours, theirs = context.Pipe()
            processes.append(context.Process(target=worker_main, args=(theirs,), daemon=True))
            processes[-1].start()
            pipes.append(ours)
        harness = Harness(pipes, tokens, sender, room, work)
        results: dict[str, dict[int, list[dict[str, Any]]]] = {
            s: {n: [] for n in sizes} for s in SERVERS
        }
        bare_cmd = uvicorn_command("bare_chat:app", bare_port)
        with serve(bare_cmd, env, bare_port, work / "bare.log") as bare:
            targets = {
                "bare": Target("bare", bare.url, bare.pid),
                "graphql_api": Target("graphql_api", api.url, api.pid),
            }
            for name in SERVERS:  # warm-up, not counted
                await harness.measure(targets[name], min(sizes), 20, f"w-{name}", 10)
            for round_ in range(1, rounds + 1):
                for n in sizes:
                    for name in SERVERS:
                        settle([bare.pid, api.pid])
                        tag = f"r{round_}-{name}-{n}"
                        run = await harness.measure(
                            targets[name], n, messages_for(messages, n), tag, idle_timeout
                        )
                        results[name][n].append(run)
                        print(
                            f"fan-out round {round_}, {n:>5} subscribers, {name:<11}: "
                            f"{run['per_s']:>7,.0f} delivered/s, {run['sent_per_s']:>4,.0f} sent/s,"
                            f" p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms, "
                            f"lost {run['lost']}, dup {run['duplicated']}, "
                            f"CPU server {run['server_cpu']:.0%} clients {run['clients_cpu']:.0%} "
                            f"other {run['other_cpu']:.0%}",
                            flush=True,
                        )
        for pipe in pipes:
            pipe.send(("exit",))
        for process in processes:
            process.join(timeout=30)
    return results


def measure(
    env: dict[str, str],
    work: Path,
    sizes: list[int],
    rounds: int = 2,
    messages: int | None = None,
    clients: int = 2,
    users: int = 1,
    idle_timeout: float = 10.0,
) -> dict[str, Any]:
    """Fan-out to each number of subscribers in `sizes`, bare vs. graphql_api, on the
    (migrated) database and the broker that env names. The medians of the rounds per server
    and size ("summary"), every round ("runs"), graphql_api / bare delivered/s per size
    ("ratios") and the counts of trouble over all ("trouble": lost, duplicated, ...)."""
    raise_fd_limit()
    sizes = sorted(sizes)
    print(
        f"fan-out load generator: {clients} client processes (uvloop, wire.py WebSockets), "
        f"one sender (keep-alive HTTP/1.1); {rounds} rounds; messages per measurement: "
        + ", ".join(f"{messages_for(messages, n)} to {n:,}" for n in sizes),
        flush=True,
    )
    runs = uvloop.run(bench(env, work, sizes, rounds, messages, clients, users, idle_timeout))
    summary = {
        name: {n: medians(by_size, FIGURES, TROUBLE) for n, by_size in by_n.items()}
        for name, by_n in runs.items()
    }
    return {
        "summary": summary,
        "runs": runs,
        "ratios": {
            n: summary["graphql_api"][n]["per_s"] / summary["bare"][n]["per_s"] for n in sizes
        },
        "trouble": {
            k: sum(f[k] for by_n in summary.values() for f in by_n.values()) for k in TROUBLE
        },
        "messages": {n: messages_for(messages, n) for n in sizes},
        "rounds": rounds,
        "clients": clients,
        "users": users,
        "database": database_kind(env["DATABASE_URL"]),
        "broker": env["BROKER_URL"].split(":")[0],
    }


def print_table(outcome: dict[str, Any]) -> None:
    summary = outcome["summary"]
    print(
        f"\n{'subscribers':>11}  {'server':<12}{'delivered/s':>12}{'sent/s':>8}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'lost':>6}{'dup':>5}{'CPU: server':>13}{'clients':>9}{'other':>7}"
    )
    for n in summary["bare"]:
        for name in SERVERS:
            f = summary[name][n]
            print(
                f"{n:>11,}  {name:<12}{f['per_s']:>12,.0f}{f['sent_per_s']:>8,.0f}"
                f"{f['p50_ms']:>9.1f}{f['p99_ms']:>9.1f}"
                f"{f['lost']:>6}{f['duplicated']:>5}{f['server_cpu']:>13.0%}"
                f"{f['clients_cpu']:>9.0%}{f['other_cpu']:>7.0%}"
            )
    print(
        "\ngraphql_api / bare, delivered/s: "
        + ", ".join(f"{n:,} subscribers {r:.2f}" for n, r in outcome["ratios"].items())
    )
    print(
        "CPU: share of one core from the first send to the last receipt; other: the rest of "
        "the machine meanwhile (PostgreSQL, Redis, noise). Latency includes queueing: the "
        "sender does not wait for delivery."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--broker-url", default="memory://", help="default: memory://")
    parser.add_argument("--subscribers", default="10,100,1000", help="sizes, comma-separated")
    parser.add_argument(
        "--messages", type=int, help="messages per measurement (default: 100, 1,000 to 10)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--users", type=int, default=1, help="accounts the subscribers sign in as, in turn"
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=10.0, help="give up on lost messages after this"
    )
    parser.add_argument("--json", type=Path, default=Path("bench-chat.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    env = server_env(args.database_url or f"sqlite:///{work / 'bench.db'}", work, args.broker_url)
    migrate(env)
    outcome = measure(
        env,
        work,
        [int(s) for s in args.subscribers.split(",")],
        args.rounds,
        args.messages,
        args.clients,
        args.users,
        args.idle_timeout,
    )
    print_table(outcome)
    args.json.write_text(json.dumps(outcome, indent=2) + "\n")
    print(f"written to {args.json}")
    shutil.rmtree(work, ignore_errors=True)
    if any(outcome["trouble"].values()):
        raise SystemExit(f"FAILED: {outcome['trouble']}")


if __name__ == "__main__":
    main()
