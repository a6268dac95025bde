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
- the baseline, bare_chat.py under uvicorn, one process: plain WebSockets, and a POST that
  writes the same `next` frame bytes graphql_api sends to every socket of the message's
  room, one after the other.

Modes (defaults: one room, one worker, the plain selection):
- --rooms K: subscriber i listens in room i % K (K rooms created at set-up; a bare socket
  names its room in its URL, `?room=`), and message i goes to room i % K, so each message
  reaches about N/K subscribers. Expected receipts, lost, duplicated and latency count per
  room membership; a message heard in another room is a stray.
- --workers W: `graphql-api serve --workers W`; more than one needs --broker-url
  redis://... (and a database the processes share: the SQLite file, or PostgreSQL).
  Server CPU is the sum over the server's process and its descendants (the workers).
- --selection private: the subscription also selects `author { username email }`, and
  User.email is visible only to the user themself (or an admin). The sender, an ordinary
  user, writes every message and is none of the subscribers' --users (alias --viewers)
  accounts, so each subscriber must get `email: null`; every frame is compared with the
  bytes its subscriber's viewer should get (email only for the author), and the bare
  server sends each socket one of the two variants, by the viewer its URL names.
With a redis:// broker, the server's keys start with a fresh GRAPHQL_API_REDIS_PREFIX,
deleted at the end.

For each size N: connect N subscribers, send setTyping until every subscriber has heard it
(then all are subscribed), send M messages (--messages, default 100 and at least 10,000
deliveries: 1,000 messages to 10 subscribers), wait until every subscriber has them all (with
rooms: at least 10,000 of the deliveries that happen),
and send setTyping once more until all have heard it (a duplicate would come before it).

Sending policy: one sender in the main process posts the M messages back to back on one
keep-alive HTTP connection. Each send waits for the HTTP answer (graphql_api: the message
stored, committed and published) but never for delivery, so the figures show how fast a
server fans out, not how fast someone types. Load generator: the subscribers are spread
round-robin over --clients worker processes (default 2), each one uvloop event loop with
one WebSocket per subscriber, without compression (wire.py: lean clients, so that the
load generator takes as little of the machine's CPU as it can). Latency is the receipt
in a worker minus the moment just before the send request; both are time.monotonic_ns
(CLOCK_MONOTONIC: one clock for all processes on Linux). Throughput is the receipts (N*M
in one room) over the time from the first send to the last receipt. A message missing at a
subscriber is lost, one received twice duplicated; either, a stray, or a frame that is not
the text frame its subscriber should get (other bytes, or a binary frame: mismatched),
makes the exit status 1. Rounds are interleaved (bare, graphql_api, bare, ...); figures
are medians.
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
from urllib.parse import urlencode

import orjson
import uvloop
from bare_chat import message_frame, private_frame
from harness import (
    api_command,
    database_kind,
    free_port,
    machine_cpu_seconds,
    medians,
    migrate,
    process_tree,
    raise_fd_limit,
    serve,
    server_env,
    settle,
    tree_cpu_seconds,
    uvicorn_command,
)
from wire import HttpClient, WebSocket, connect

SERVERS = ("bare", "graphql_api")
CONNECT_CONCURRENCY = 16  # per client process: a 2-core machine shares its cores with the server
BUSY_RETRIES = 10
READY_SECONDS = 120.0  # at most this long for all subscribers to be listening
SUBSCRIPTION = (
    "subscription($room: String!) { chatEvents(room: $room) "
    "{ __typename ... on MessageSent { message { id text } } } }"
)
# The same with a field that depends on the viewer: User.email, null but for the user
# themself (or an admin).
PRIVATE_SUBSCRIPTION = (
    "subscription($room: String!) { chatEvents(room: $room) "
    "{ __typename ... on MessageSent { message { id text author { username email } } } } }"
)
SELECTIONS = {"plain": SUBSCRIPTION, "private": PRIVATE_SUBSCRIPTION}
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


async def subscribe(url: str, token: str, room: str, query: str = SUBSCRIPTION) -> WebSocket:
    """A graphql-transport-ws WebSocket at `url`, signed in with `token`, subscribed (as
    operation "1") to `query` in `room`. A server too busy to check the token closes with
    1013 (try again later): tried again, as graphql-ws clients do."""
    for attempt in range(BUSY_RETRIES):
        websocket = await connect(url, "graphql-transport-ws")
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        websocket.send(orjson.dumps(init).decode())
        try:
            ack = orjson.loads(await websocket.recv())
            break
        except ConnectionError:
            if websocket.close_code != 1013 or attempt == BUSY_RETRIES - 1:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    payload = {"query": query, "variables": {"room": room}}
    websocket.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
    return websocket


@dataclass
class Subscriber:
    websocket: WebSocket
    viewer: str  # the username it signed in as
    room: int  # its room's index: it is sent the messages i with i % rooms == room
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
        self.rooms = 1
        self.selection = "plain"
        self.author = ("", "")  # the sender's username and email
        self.target = 0  # (subscriber, message) receipts this batch should have
        self.count = 0  # distinct (subscriber, message) receipts of this batch
        self.duplicates = 0
        self.strays = 0  # messages of no batch being measured, or of another room
        self.mismatched = 0  # frames not the text frame this subscriber should get
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

    async def connect(
        self,
        kind: str,
        url: str,
        entries: list[tuple[str, str, str, int]],
        selection: str,
        author: tuple[str, str],
    ) -> None:
        """One subscriber per entry (token, username, room name, room index)."""
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self.selection, self.author = selection, author

        async def open_one(token: str, viewer: str, room: str, index: int) -> Subscriber:
            async with limit:
                if kind == "graphql_api":
                    websocket = await subscribe(url, token, room, SELECTIONS[selection])
                else:
                    query = {"room": room}
                    if selection != "plain":
                        query.update(selection=selection, viewer=viewer)
                    websocket = await connect(f"{url}?{urlencode(query)}")
                subscriber = Subscriber(websocket, viewer, index)
                websocket.on_message = partial(self.on_frame, subscriber)
                websocket.closed.add_done_callback(partial(self.on_closed, subscriber))
                return subscriber

        self.subscribers = list(await asyncio.gather(*(open_one(*e) for e in entries)))

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
        if self.selection == "plain":
            expected = message_frame(sent["id"], sent["text"])
        else:  # what this subscriber may see: the email only if it is the author
            name, email = self.author
            expected = private_frame(
                sent["id"], sent["text"], name, email if subscriber.viewer == name else None
            )
        if frame != expected:  # a binary frame never matches
            self.mismatched += 1
        tag, _, seq = sent["text"].rpartition(":")
        index = int(seq) if tag == self.tag else -1
        if not 0 <= index < self.messages or index % self.rooms != subscriber.room:
            self.strays += 1
        elif subscriber.received[index]:
            self.duplicates += 1
        else:
            subscriber.received[index] = now
            self.count += 1
            if self.count == self.target:
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

    async def expect(self, tag: str, messages: int, rooms: int) -> None:
        self.tag, self.messages, self.rooms = tag, messages, rooms
        self.count = self.duplicates = self.strays = self.mismatched = 0
        for subscriber in self.subscribers:
            subscriber.received = [0] * messages
        self.target = sum(len(range(s.room, messages, rooms)) for s in self.subscribers)
        self.cpu_start = time.process_time()

    async def collect(self, idle_timeout: float) -> float:
        """Wait until every subscriber has every message, or nothing came for a while."""
        while self.count < self.target:
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
    pid: int  # its processes: this one and its descendants


@dataclass(frozen=True)
class Account:
    token: str
    username: str
    email: str


class Harness:
    """The sender, and the worker processes that hold the subscribers."""

    def __init__(
        self,
        pipes: list[Connection],
        accounts: list[Account],
        sender: Account,
        rooms: list[str],
        logs: Path,
        selection: str = "plain",
    ) -> None:
        self.pipes = pipes
        self.logs = logs
        self.accounts = accounts  # the subscribers' accounts, taken in turn
        self.sender = sender
        self.rooms = rooms  # subscriber i listens in rooms[i % K]; message i goes there too
        self.selection = selection

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
            for room in self.rooms:
                await post(sender, TYPING, {"room": room, "typing": True})
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
        workers, rooms = len(self.pipes), len(self.rooms)
        entries = []
        for i in range(n):
            account = self.accounts[i % len(self.accounts)]
            entries.append((account.token, account.username, self.rooms[i % rooms], i % rooms))
        shares = [entries[i::workers] for i in range(workers)]
        author = (self.sender.username, self.sender.email)
        await self.call(
            [("connect", target.kind, ws_url, s, self.selection, author) for s in shares]
        )
        headers = {"Authorization": f"Bearer {self.sender.token}"}
        if target.kind == "bare" and self.selection != "plain":
            headers["X-Author"] = f"{self.sender.username} {self.sender.email}"
        sender = HttpClient(target.url, headers)
        try:
            await self.until_all_hear_typing(sender, n)
            await self.call_all("expect", tag, messages, rooms)
            server_cpu = tree_cpu_seconds(target.pid)
            sender_cpu = time.process_time()
            machine_cpu = machine_cpu_seconds()
            sends: list[int] = []
            for i in range(messages):
                sends.append(time.monotonic_ns())
                room = self.rooms[i % rooms]
                await post(sender, SEND, {"room": room, "text": f"{tag}:{i}"})
            done = time.monotonic_ns()
            sending = done - sends[0]
            slowest_send = max(b - a for a, b in zip(sends, [*sends[1:], done], strict=True))
            client_cpu = sum(await self.call_all("collect", idle_timeout))
            window = time.monotonic_ns() - sends[0]
            server_cpu = tree_cpu_seconds(target.pid) - server_cpu
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
            "lost": deliveries(n, rooms, messages) - delivered,
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


async def set_up(
    url: str, users: int, run_id: str, rooms: int = 1
) -> tuple[list[Account], list[str]]:
    """Register `users` subscribers and a sender (an ordinary user, not an admin: last);
    create the rooms."""
    limit = asyncio.Semaphore(8)

    async def register(name: str) -> Account:
        async with limit:
            client = HttpClient(url, {})
            email = f"{name}@example.com"
            fields = {"email": email, "username": name, "password": "x" * 12}
            try:
                return Account(
                    str((await post(client, REGISTER, fields))["accessToken"]), name, email
                )
            finally:
                await client.close()

    names = [f"b{run_id}-{i}" for i in range(users)] + [f"b{run_id}-sender"]
    accounts = list(await asyncio.gather(*(register(name) for name in names)))
    client = HttpClient(url, {"Authorization": f"Bearer {accounts[-1].token}"})
    names = [f"bench-{run_id}"] if rooms == 1 else [f"bench-{run_id}-{k}" for k in range(rooms)]
    for room in names:
        await post(client, CREATE_ROOM, {"name": room})
    await client.close()
    return accounts, names


def deliveries(n: int, rooms: int, messages: int) -> int:
    """How many receipts `messages` messages make, sent to the rooms in turn, with `n`
    subscribers spread over the rooms round-robin."""
    sizes = [len(range(r, n, rooms)) for r in range(rooms)]
    return sum(sizes[i % rooms] for i in range(messages))


def messages_for(messages: int | None, n: int, rooms: int = 1) -> int:
    """`messages`, or 100 and at least enough for 10,000 deliveries."""
    if messages:
        return messages
    sizes = [len(range(r, n, rooms)) for r in range(rooms)]
    count, total = 0, 0
    while count < 100 or total < 10_000:
        total += sizes[count % rooms]
        count += 1
    return count


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
    rooms: int = 1,
    workers: int = 1,
    selection: str = "plain",
) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Every round's figures, per server and size."""
    api_port, bare_port = free_port(), free_port()
    run_id = secrets.token_hex(3)
    show_checks = rooms > 1 or workers > 1 or selection != "plain"
    # Signing up the --users accounts is set-up: past 5 a minute from one address it was
    # refused (RATE_LIMITED).
    env = {**env, "GRAPHQL_API_RATE_LIMIT_REGISTER_PER_ADDRESS": "100000/minute"}
    with serve(api_command(api_port, workers), env, api_port, work / "api.log") as api:
        users = min(users, max(sizes))
        print(f"registering {users} subscriber accounts and a sender ...", flush=True)
        accounts, room_names = await set_up(api.url, users, run_id, rooms)
        sender = accounts.pop()
        context = multiprocessing.get_context("spawn")
        pipes: list[Connection] = []
        processes: list[BaseProcess] = []
        for _ in range(clients):
            ours, theirs = context.Pipe()
            processes.append(context.Process(target=worker_main, args=(theirs,), daemon=True))
            processes[-1].start()
            pipes.append(ours)
        harness = Harness(pipes, accounts, sender, room_names, work, selection)
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
                        settle(process_tree(bare.pid) + process_tree(api.pid))
                        tag = f"r{round_}-{name}-{n}"
                        run = await harness.measure(
                            targets[name], n, messages_for(messages, n, rooms), tag, idle_timeout
                        )
                        checks = (
                            f", strays {run['strays']}, mismatched {run['mismatched']}"
                            if show_checks or run["strays"] or run["mismatched"]
                            else ""
                        )
                        results[name][n].append(run)
                        print(
                            f"fan-out round {round_}, {n:>5} subscribers, {name:<11}: "
                            f"{run['per_s']:>7,.0f} delivered/s, {run['sent_per_s']:>4,.0f} sent/s,"
                            f" p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms, "
                            f"lost {run['lost']}, dup {run['duplicated']}{checks}, "
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
    rooms: int = 1,
    workers: int = 1,
    selection: str = "plain",
) -> dict[str, Any]:
    """Fan-out to each number of subscribers in `sizes`, bare vs. graphql_api, on the
    (migrated) database and the broker that env names; the subscribers spread over `rooms`
    rooms, graphql_api with `workers` worker processes, subscribed with the `selection`
    ("plain" or "private"). The medians of the rounds per server and size ("summary"),
    every round ("runs"), graphql_api / bare delivered/s per size ("ratios") and the counts
    of trouble over all ("trouble": lost, duplicated, ...)."""
    raise_fd_limit()
    sizes = sorted(sizes)
    if rooms > sizes[0]:
        raise SystemExit(f"--rooms {rooms}: more rooms than subscribers ({sizes[0]})")
    if workers > 1 and not env["BROKER_URL"].startswith("redis"):
        raise SystemExit(
            f"--workers {workers}: the workers need a broker they share, e.g. "
            "--broker-url redis://127.0.0.1:6379/0"
        )
    if workers > 1 and ":memory:" in env["DATABASE_URL"]:
        raise SystemExit(f"--workers {workers}: the workers need a database they share")
    print(
        f"fan-out load generator: {clients} client processes (uvloop, wire.py WebSockets), "
        f"one sender (keep-alive HTTP/1.1); {rounds} rounds; messages per measurement: "
        + ", ".join(f"{messages_for(messages, n, rooms)} to {n:,}" for n in sizes)
        + f"; {rooms} rooms, {workers} graphql_api workers, {users} viewers, "
        f"selection {selection}",
        flush=True,
    )
    runs = uvloop.run(
        bench(
            env,
            work,
            sizes,
            rounds,
            messages,
            clients,
            users,
            idle_timeout,
            rooms,
            workers,
            selection,
        )
    )
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
        "messages": {n: messages_for(messages, n, rooms) for n in sizes},
        "rounds": rounds,
        "clients": clients,
        "users": users,
        "rooms": rooms,
        "workers": workers,
        "viewers": users,
        "selection": selection,
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
    if (
        outcome.get("rooms", 1) > 1
        or outcome.get("workers", 1) > 1
        or outcome.get("selection", "plain") != "plain"
    ):
        print(
            "\nstrays, mismatched: "
            + "; ".join(
                f"{n:,} subscribers {name} {summary[name][n]['strays']}, "
                f"{summary[name][n]['mismatched']}"
                for n in summary["bare"]
                for name in SERVERS
            )
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


def forget_redis_keys(url: str, prefix: str) -> None:
    """Delete what the run left in Redis under its prefix."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


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
        "--users",
        "--viewers",
        type=int,
        default=1,
        help="accounts (viewers) the subscribers sign in as, in turn",
    )
    parser.add_argument(
        "--rooms", type=int, default=1, help="rooms the subscribers are spread over, in turn"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="graphql_api worker processes (more than 1: --broker-url redis://...)",
    )
    parser.add_argument(
        "--selection",
        choices=sorted(SELECTIONS),
        default="plain",
        help="plain: message { id text }; private: also author { username email }",
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=10.0, help="give up on lost messages after this"
    )
    parser.add_argument("--json", type=Path, default=Path("bench-chat.json"))
    args = parser.parse_args()

    if args.workers > 1 and not args.broker_url.startswith("redis"):
        parser.error(
            "--workers > 1 needs a broker they share: --broker-url redis://127.0.0.1:6379/0"
        )
    if args.rooms < 1 or args.workers < 1 or args.users < 1:
        parser.error("--rooms, --workers and --users are at least 1")

    work = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    env = server_env(args.database_url or f"sqlite:///{work / 'bench.db'}", work, args.broker_url)
    if args.broker_url.startswith("redis"):
        # A fresh prefix: nothing of an earlier run (rate limits, presence) in Redis counts.
        env["GRAPHQL_API_REDIS_PREFIX"] = f"bench-chat-{secrets.token_hex(4)}:"
    migrate(env)
    try:
        outcome = measure(
            env,
            work,
            [int(s) for s in args.subscribers.split(",")],
            args.rounds,
            args.messages,
            args.clients,
            args.users,
            args.idle_timeout,
            args.rooms,
            args.workers,
            args.selection,
        )
    finally:
        if "GRAPHQL_API_REDIS_PREFIX" in env:
            forget_redis_keys(args.broker_url, env["GRAPHQL_API_REDIS_PREFIX"])
    print_table(outcome)
    args.json.write_text(json.dumps(outcome, indent=2) + "\n")
    print(f"written to {args.json}")
    shutil.rmtree(work, ignore_errors=True)
    if any(outcome["trouble"].values()):
        raise SystemExit(f"FAILED: {outcome['trouble']}")


if __name__ == "__main__":
    main()
