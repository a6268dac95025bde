"""A page of every room's history costs one statement, however many rooms are listed."""

import pytest

from graphql_api.chat.models import ChatMessage, ChatRoom
from graphql_api.core.graphql.relay import from_global_id
from graphql_api.state import AppState
from tests.support.databases import StatementLog
from tests.support.users import SignedIn

ROOMS = """
query Rooms($n: Int!) {
  chatRooms(first: $n) {
    nodes { name messages(last: 3) { totalCount nodes { text } pageInfo { hasPreviousPage } } }
  }
}
"""


@pytest.fixture
async def twenty_rooms(services: AppState, alice: SignedIn) -> SignedIn:
    """20 rooms with 5 messages each, written straight to the database."""
    author = from_global_id(alice.id)[1]
    async with services.sessionmaker.begin() as session:
        rooms = [ChatRoom(name=f"room-{i:02}", title=f"Room {i}", last_seq=5) for i in range(20)]
        session.add_all(rooms)
        await session.flush()
        session.add_all(
            ChatMessage(room_id=room.id, seq=seq, author_id=author, text=f"{room.name}/{seq}")
            for room in rooms
            for seq in range(1, 6)
        )
    return alice


async def test_room_histories_take_one_statement_per_batch(
    twenty_rooms: SignedIn, sql_statements: StatementLog
) -> None:
    counts = {}
    for n in (1, 5, 20):
        sql_statements.clear()
        data = await twenty_rooms.client.data(ROOMS, {"n": n})
        rooms = data["chatRooms"]["nodes"]
        assert len(rooms) == n
        for room in rooms:
            texts = [m["text"] for m in room["messages"]["nodes"]]
            assert texts == [f"{room['name']}/{seq}" for seq in (3, 4, 5)]
            assert room["messages"]["totalCount"] == 5
            assert room["messages"]["pageInfo"] == {"hasPreviousPage": True}
        counts[n] = sql_statements.count
    # The viewer, the page of rooms, every room's messages, and every room's count.
    assert counts == {1: 4, 5: 4, 20: 4}, sql_statements.statements
