"""Concurrent senders, two workers, subscribers that keep leaving and resuming.

Eight senders write at once through two server processes sharing PostgreSQL and Redis;
twenty subscribers each drop their connection at random points and subscribe again,
on either worker, with `after` set to the last message they heard (the README's
recipe). Every one of them must end with every message exactly once, all in the same
order: the order of the room's history, which is the order of the room's sequence.
"""

import asyncio
import itertools
import json
import random
from pathlib import Path

import asyncpg

from graphql_api.core.graphql.relay import to_global_id
from tests.support.chat import CREATE_ROOM, KEEP_ALIVE, ChatSocket, send
from tests.support.client import gql
from tests.support.server import running_server, workers_env
from tests.support.users import sign_up_over_http

SENDERS = 8
PER_SENDER = 15
SUBSCRIBERS = 20
# Subscribers share a few users: each user's presence changes only when all of theirs
# are away, so the churn of resuming does not flood everyone with UserJoined/UserLeft.
LISTENING_USERS = 4
QUIET = 10.0  # seconds without a message that mean it is not coming
MOST_PER_SUBSCRIPTION = 20  # a subscriber leaves after 1 to this many messages
PROTOCOL = "graphql-transport-ws"
HISTORY = """query($before: String) { chatRoom(name: "general") {
  messages(last: 100, before: $before) { nodes { id } pageInfo { startCursor hasPreviousPage } }
} }"""

# Only what the test compares: presence events, many here, need no query of their own.
EVENTS = """subscription($room: String!, $after: ID) { chatEvents(room: $room, after: $after) {
  __typename ... on MessageSent { message { id text } } } }"""
Heard = list[tuple[str, str]]  # (message ID, text), in the order heard


async def next_message(socket: ChatSocket, operation: str) -> tuple[str, str]:
    """The next message the operation hears; what an earlier operation sent is skipped."""
    while True:
        raw = json.loads(await asyncio.wait_for(socket.socket.recv(), QUIET))
        if raw.get("id") != operation or raw["type"] in KEEP_ALIVE:
            continue  # still on its way when its operation completed, say
        assert raw["type"] == "next" and "errors" not in raw["payload"], raw
        event = raw["payload"]["data"]["chatEvents"]
        if event["__typename"] == "MessageSent":
            return event["message"]["id"], event["message"]["text"]


async def listen(
    urls: list[str], token: str, after: str, total: int, done: asyncio.Event, seed: int
) -> Heard:
    """Hear `total` messages after `after`, leaving and resuming at random points.

    It leaves by unsubscribing (then subscribes again on the same socket) or by losing
    its connection (then connects again, to either worker). Once every message is
    sent, one that hears nothing more for a while stops: a message it skipped is then
    reported as missing rather than as a time-out.
    """
    rng = random.Random(seed)
    heard: Heard = []
    socket = await ChatSocket.connect(rng.choice(urls), token, PROTOCOL)
    for operation in map(str, itertools.count()):
        await socket.subscribe(after=after, id=operation, query=EVENTS)
        for _ in range(rng.randint(1, MOST_PER_SUBSCRIPTION)):
            if len(heard) == total:
                await socket.close()
                return heard
            try:
                heard.append(await next_message(socket, operation))
            except TimeoutError:
                if not done.is_set():
                    raise
                socket.drop()
                return heard
            after = heard[-1][0]
        if rng.random() < 0.5:
            await socket.socket.send(json.dumps({"id": operation, "type": "complete"}))
        else:
            socket.drop()  # no closing handshake, as when the network goes
            socket = await ChatSocket.connect(rng.choice(urls), token, PROTOCOL)
    raise AssertionError("unreachable")


async def history_ids(url: str, token: str) -> list[str]:
    """The room's whole history through `messages(last, before)`, oldest first."""
    ids: list[str] = []
    before = None
    while True:
        messages = (await gql(url, token, HISTORY, {"before": before}))["messages"]
        ids[:0] = [node["id"] for node in messages["nodes"]]
        if not messages["pageInfo"]["hasPreviousPage"]:
            return ids
        before = messages["pageInfo"]["startCursor"]


async def test_resuming_subscribers_hear_every_message_once_in_sequence_order(
    tmp_path: Path, postgres_server_url: str
) -> None:
    env = await workers_env(tmp_path, postgres_server_url)
    with running_server(env, tmp_path) as a, running_server(env, tmp_path) as b:
        urls = [a, b]
        senders = [await sign_up_over_http(urls[n % 2], f"sender{n}") for n in range(SENDERS)]
        listeners = [
            await sign_up_over_http(urls[n % 2], f"ear{n}") for n in range(LISTENING_USERS)
        ]
        await gql(a, senders[0], CREATE_ROOM)
        start = await send(a, senders[0], "start")  # as if each had read the history
        total = SENDERS * PER_SENDER
        done = asyncio.Event()

        async def talk(n: int) -> list[str]:
            return [
                (await send(urls[n % 2], senders[n], f"sender{n} {k}"))["id"]
                for k in range(PER_SENDER)
            ]

        async def all_talk() -> list[list[str]]:
            try:
                return await asyncio.gather(*(talk(n) for n in range(SENDERS)))
            finally:
                done.set()

        async with asyncio.timeout(45):
            hearing = [
                asyncio.create_task(
                    listen(urls, listeners[n % LISTENING_USERS], start["id"], total, done, n)
                )
                for n in range(SUBSCRIBERS)
            ]
            sent = await all_talk()
            heard = await asyncio.gather(*hearing)

        history = await history_ids(b, senders[1])
        assert history[0] == start["id"]
        assert sorted(history[1:]) == sorted(i for ids in sent for i in ids)
        for n, ears in enumerate(heard):
            ids = [i for i, _ in ears]
            missing = set(history[1:]) - set(ids)
            twice = {i for i in ids if ids.count(i) > 1}
            assert (len(missing), len(twice)) == (0, 0), f"subscriber {n}"
            assert ids == history[1:], f"subscriber {n} heard another order"
        for n in range(SENDERS):  # each sender's messages in the order it sent them
            mine = [text for _, text in heard[0] if text.startswith(f"sender{n} ")]
            assert mine == [f"sender{n} {k}" for k in range(PER_SENDER)]

    # The history's order is the room's sequence, 1, 2, 3 ... with no hole.
    conn = await asyncpg.connect(postgres_server_url)
    try:
        rows = await conn.fetch("SELECT id, seq FROM chat_messages ORDER BY seq")
    finally:
        await conn.close()
    assert [row["seq"] for row in rows] == list(range(1, total + 2))
    assert [to_global_id("ChatMessage", row["id"]) for row in rows] == history
