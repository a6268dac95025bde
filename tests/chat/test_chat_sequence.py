"""A room's sequence: numbers in commit order, history and resume by it, gaps filled.

Events are published by hand here, out of order, to see what a subscriber makes of
what two workers' publishes may look like; the messages themselves are stored through
the service, as sendMessage stores them.
"""

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select, text

from graphql_api.chat import sequence
from graphql_api.chat.models import ChatMessage
from graphql_api.chat.service import message_event, room_channel, send_message
from graphql_api.core.db.engine import write_transaction
from graphql_api.core.graphql.context import Context
from graphql_api.core.graphql.relay import to_global_id
from graphql_api.schema import build_schema
from graphql_api.state import AppState
from graphql_api.users.models import User
from tests.support.chat import NEW_MESSAGE, create_room
from tests.support.databases import StatementLog
from tests.support.users import SignedIn, sign_up

EVENTS = """subscription($room: String!, $after: ID) { chatEvents(room: $room, after: $after) {
  __typename ... on MessageSent { message { id text author { username } } } } }"""
HISTORY = """query($room: String!, $last: Int, $before: String) { chatRoom(name: $room) {
  messages(last: $last, before: $before) { nodes { text } pageInfo { startCursor } } } }"""
TYPING = {"type": "UserTyping", "typing": True, "user_id": 1}  # marks the end of a check
WAIT = 5.0


async def store(services: AppState, author: str, room: str, *texts: str) -> list[ChatMessage]:
    """Messages stored as sendMessage stores them, but not published."""
    stored = []
    for body in texts:
        async with write_transaction(services.sessionmaker) as session:
            user = await session.scalar(select(User).where(User.username == author))
            assert user is not None
            stored.append(await send_message(session, author=user, room_name=room, text=body))
    return stored


async def publish(services: AppState, *messages: ChatMessage) -> None:
    for message in messages:
        await services.broker.publish(room_channel(message.room_id), message_event(message))


@dataclass
class Listener:
    """A chatEvents subscription and the texts it heard that a check has not taken yet."""

    events: AsyncGenerator[Any, None]
    heard: list[str] = field(default_factory=list)

    async def next_event(self) -> dict[str, Any]:
        result = await asyncio.wait_for(anext(self.events), WAIT)
        assert result.errors is None, result.errors
        event: dict[str, Any] = result.data["chatEvents"]
        if event["__typename"] == "MessageSent":
            self.heard.append(event["message"]["text"])
        return event

    async def until_typing(self, services: AppState) -> list[str]:
        """The texts heard before a typing notice published now: all that was coming."""
        async with services.sessionmaker() as session:
            room_id = await session.scalar(text("SELECT id FROM chat_rooms WHERE name = 'general'"))
        await services.broker.publish(room_channel(room_id), TYPING)
        while (await self.next_event())["__typename"] != "UserTyping":
            pass
        heard, self.heard = self.heard, []
        return heard


async def subscribe(
    services: AppState,
    user: SignedIn,
    room: str = "general",
    after: str | None = None,
    document: str = EVENTS,
) -> Listener:
    """A chatEvents subscription, listening: past its own UserJoined (after the replay)."""
    context = Context(services, token=user.client.token, request_id="test")
    events = await build_schema(services.settings).subscribe(
        document, context_value=context, variable_values={"room": room, "after": after}
    )
    assert isinstance(events, AsyncGenerator), events
    listener = Listener(events)
    while (await listener.next_event())["__typename"] != "UserJoined":
        pass
    return listener


async def seqs(services: AppState) -> list[tuple[str, str, int]]:
    async with services.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT r.name, m.text, m.seq FROM chat_messages m JOIN chat_rooms r"
                " ON r.id = m.room_id ORDER BY m.id"
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_each_room_numbers_its_messages_from_one(
    services: AppState, alice: SignedIn, bob: SignedIn
) -> None:
    await create_room(alice, "general")
    await create_room(alice, "random")
    for n in range(3):
        for room in ("general", "random"):
            await (alice if n % 2 else bob).client.mutate(
                NEW_MESSAGE, {"room": room, "text": f"{n}"}
            )
    assert await seqs(services) == [
        (room, f"{n}", n + 1) for n in range(3) for room in ("general", "random")
    ]
    # Refused messages take no number.
    bad = await alice.client.data(NEW_MESSAGE, {"input": {"room": "general", "text": " "}})
    assert bad["sendMessage"]["userErrors"][0]["code"] == "REQUIRED"
    await alice.client.mutate(NEW_MESSAGE, {"room": "general", "text": "3"})
    assert (await seqs(services))[-1] == ("general", "3", 4)


async def test_history_and_resuming_follow_the_sequence_not_the_id(
    services: AppState, alice: SignedIn
) -> None:
    """As on PostgreSQL when the message with the larger id committed first."""
    await create_room(alice, "general")
    first, smaller_id, larger_id, last = await store(
        services, "alice", "general", "first", "committed second", "committed first", "last"
    )
    async with services.engine.begin() as conn:  # renumber: ids 2 and 3 swap places
        for pk, seq in ((smaller_id.id, 0), (larger_id.id, 2), (smaller_id.id, 3)):
            await conn.execute(
                text("UPDATE chat_messages SET seq = :seq WHERE id = :id"), {"seq": seq, "id": pk}
            )
    in_order = ["first", "committed first", "committed second", "last"]
    history = await alice.client.data(HISTORY, {"room": "general"})
    assert [m["text"] for m in history["chatRoom"]["messages"]["nodes"]] == in_order
    page = await alice.client.data(HISTORY, {"room": "general", "last": 2})
    cursor = page["chatRoom"]["messages"]["pageInfo"]["startCursor"]
    older = await alice.client.data(HISTORY, {"room": "general", "before": cursor})
    assert [m["text"] for m in older["chatRoom"]["messages"]["nodes"]] == in_order[:2]

    # Resuming after the one heard second: the one with the smaller id is still to come.
    events = await subscribe(services, alice, after=to_global_id("ChatMessage", larger_id.id))
    assert await events.until_typing(services) == ["committed second", "last"]
    await events.events.aclose()
    events = await subscribe(services, alice, after=to_global_id("ChatMessage", first.id))
    assert await events.until_typing(services) == in_order[1:]
    await events.events.aclose()
    assert last.seq == 4


async def test_a_sender_gets_its_number_once_the_one_before_committed(
    services: AppState, alice: SignedIn
) -> None:
    await create_room(alice, "general")
    async with write_transaction(services.sessionmaker) as session:
        author = await session.scalar(select(User).where(User.username == "alice"))
        assert author is not None
        held = await send_message(session, author=author, room_name="general", text="held")
        later = asyncio.create_task(
            alice.client.mutate(NEW_MESSAGE, {"room": "general", "text": "later"})
        )
        done, _ = await asyncio.wait({later}, timeout=0.5)
        assert not done, "a second sender got a number while the first had not committed"
    await asyncio.wait_for(later, WAIT)
    assert [(body, seq) for _, body, seq in await seqs(services)] == [("held", 1), ("later", 2)]
    assert held.seq == 1


async def test_a_gap_in_the_live_events_is_filled_from_the_database(
    services: AppState, alice: SignedIn
) -> None:
    await create_room(alice, "general")
    events = await subscribe(services, alice)
    one, two, three = await store(services, "alice", "general", "1", "2", "3")
    await publish(services, three)  # 1 and 2 are committed, their events not here yet
    assert await events.until_typing(services) == ["1", "2", "3"]
    await publish(services, one, two, three)  # late, or twice: heard already
    assert await events.until_typing(services) == []
    (four,) = await store(services, "alice", "general", "4")
    await publish(services, four)
    assert await events.until_typing(services) == ["4"]
    await events.events.aclose()


async def test_deleted_messages_leave_no_hole_to_wait_for(
    services: AppState, http: Any, alice: SignedIn
) -> None:
    """Deleted with its author: not in a gap's fill, nor live, nor a place to resume."""
    await create_room(alice, "general")
    await sign_up(http, "carol")
    events = await subscribe(services, alice)
    kept, gone, after_gone = await store(services, "alice", "general", "kept", "x", "after")
    (carols,) = await store(services, "carol", "general", "carol's")
    async with services.engine.begin() as conn:
        await conn.execute(text("DELETE FROM chat_messages WHERE id = :id"), {"id": gone.id})
        await conn.execute(text("DELETE FROM users WHERE username = 'carol'"))
    await publish(services, after_gone)
    assert await events.until_typing(services) == ["kept", "after"]
    await publish(services, carols)  # its author was deleted since it was sent
    (last,) = await store(services, "alice", "general", "last")
    await publish(services, last)
    assert await events.until_typing(services) == ["last"]
    await events.events.aclose()
    assert kept.seq == 1


async def test_a_live_message_costs_no_read_unless_its_author_is_shown(
    services: AppState, alice: SignedIn, sql_statements: StatementLog
) -> None:
    """Whether its author still exists is asked only where the author's field needs the row."""
    await create_room(alice, "general")
    without_author = EVENTS.replace(" author { username }", "")
    events = await subscribe(services, alice, document=without_author)
    stored = await store(services, "alice", "general", "one", "two", "three")
    sql_statements.clear()
    await publish(services, *stored)
    for _ in stored:
        await events.next_event()
    assert events.heard == ["one", "two", "three"]
    assert sql_statements.statements == []
    await events.events.aclose()


@pytest.mark.parametrize(
    ("after", "message"),
    [
        ("other room", sequence.NOT_IN_ROOM),
        ("no such message", sequence.GONE),
        ("a deleted message", sequence.GONE),
        ("an item", "after must be the ID of a ChatMessage."),
        ("not an id", None),
    ],
)
async def test_a_resume_point_that_is_not_in_the_room_is_refused_clearly(
    services: AppState, alice: SignedIn, after: str, message: str | None
) -> None:
    await create_room(alice, "general")
    await create_room(alice, "random")
    (elsewhere,) = await store(services, "alice", "random", "elsewhere")
    (here,) = await store(services, "alice", "general", "here")
    async with services.engine.begin() as conn:
        await conn.execute(text("DELETE FROM chat_messages WHERE id = :id"), {"id": here.id})
    ids = {
        "other room": to_global_id("ChatMessage", elsewhere.id),
        "no such message": to_global_id("ChatMessage", elsewhere.id + 1000),
        "a deleted message": to_global_id("ChatMessage", here.id),
        "an item": to_global_id("Item", elsewhere.id),
        "not an id": "%%%",
    }
    context = Context(services, token=alice.client.token, request_id="test")
    events = await build_schema(services.settings).subscribe(
        EVENTS, context_value=context, variable_values={"room": "general", "after": ids[after]}
    )
    assert isinstance(events, AsyncGenerator)
    results = [result async for result in events]  # one: the error
    (error,) = results[0].errors
    assert len(results) == 1
    assert error.extensions["code"] == "BAD_USER_INPUT"
    if message is not None:
        assert error.message == message


async def test_a_replay_longer_than_a_page_is_whole(
    services: AppState, alice: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sequence, "PAGE_SIZE", 3)
    await create_room(alice, "general")
    first, *rest = await store(services, "alice", "general", *(f"{n}" for n in range(11)))
    events = await subscribe(services, alice, after=to_global_id("ChatMessage", first.id))
    assert await events.until_typing(services) == [m.text for m in rest]
    # A gap longer than a page, too.
    later = await store(services, "alice", "general", *(f"later {n}" for n in range(7)))
    await publish(services, later[-1])
    assert await events.until_typing(services) == [m.text for m in later]
    await events.events.aclose()


async def test_a_room_deleted_under_its_senders_is_not_found(
    services: AppState, alice: SignedIn
) -> None:
    await create_room(alice, "general")
    events = await subscribe(services, alice)
    async with services.engine.begin() as conn:
        await conn.execute(text("DELETE FROM chat_rooms WHERE name = 'general'"))
    data = await alice.client.data(NEW_MESSAGE, {"input": {"room": "general", "text": "hello?"}})
    assert data["sendMessage"]["userErrors"][0]["code"] == "NOT_FOUND"
    await events.events.aclose()
