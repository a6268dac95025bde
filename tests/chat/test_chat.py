"""createChatRoom, sendMessage, chatRooms and chatRoom { messages }."""

import pytest

from tests.support.chat import NEW_MESSAGE, NEW_ROOM, create_room
from tests.support.client import GraphQLClient, error_codes
from tests.support.users import SignedIn

HISTORY = """query($name: String!, $last: Int, $before: String) {
  chatRoom(name: $name) { name messages(last: $last, before: $before) {
    totalCount nodes { text author { username } }
    pageInfo { hasPreviousPage hasNextPage startCursor endCursor } } }
}"""
ROOMS = """query($first: Int, $after: String) { chatRooms(first: $first, after: $after) {
  totalCount nodes { name } pageInfo { hasNextPage endCursor } } }"""


async def test_create_room_and_list_rooms(alice: SignedIn, bob: SignedIn) -> None:
    room = await create_room(alice, " General ", "General talk")
    assert (room["name"], room["title"]) == ("general", "General talk")
    assert (await create_room(bob, "random"))["title"] == "random"
    first = await bob.client.data(ROOMS, {"first": 1})
    assert first["chatRooms"]["nodes"] == [{"name": "general"}]
    assert first["chatRooms"]["totalCount"] == 2
    rest = await bob.client.data(ROOMS, {"after": first["chatRooms"]["pageInfo"]["endCursor"]})
    assert rest["chatRooms"]["nodes"] == [{"name": "random"}]
    node = await bob.client.data(
        "query($id: ID!) { node(id: $id) { ... on ChatRoom { name } } }", {"id": room["id"]}
    )
    assert node["node"] == {"name": "general"}


@pytest.mark.parametrize(
    ("input", "expected"),
    [
        ({"name": "x"}, [(["name"], "INVALID")]),
        ({"name": "no spaces"}, [(["name"], "INVALID")]),
        ({"name": "ok-name", "title": "t" * 201}, [(["title"], "TOO_LONG")]),
    ],
)
async def test_bad_rooms_are_refused(alice: SignedIn, input: dict, expected: list) -> None:  # type: ignore[type-arg]
    data = await alice.client.data(NEW_ROOM, {"input": input})
    assert [(e["field"], e["code"]) for e in data["createChatRoom"]["userErrors"]] == expected


async def test_room_names_are_unique(alice: SignedIn, bob: SignedIn) -> None:
    await create_room(alice, "general")
    data = await bob.client.data(NEW_ROOM, {"input": {"name": "GENERAL"}})
    assert data["createChatRoom"]["userErrors"][0]["code"] == "TAKEN"


async def test_send_and_read_history_backwards(alice: SignedIn, bob: SignedIn) -> None:
    await create_room(alice, "general")
    for n in range(5):
        sender = alice if n % 2 == 0 else bob
        payload = await sender.client.mutate(
            NEW_MESSAGE, {"room": "general", "text": f"message {n}"}
        )
        assert payload["message"]["author"]["username"] == sender.username
        assert payload["message"]["room"] == {"name": "general"}
    latest = (await bob.client.data(HISTORY, {"name": "general", "last": 2}))["chatRoom"]
    assert [m["text"] for m in latest["messages"]["nodes"]] == ["message 3", "message 4"]
    assert latest["messages"]["pageInfo"]["hasPreviousPage"] is True
    assert latest["messages"]["pageInfo"]["hasNextPage"] is False
    assert latest["messages"]["totalCount"] == 5
    older = (
        await bob.client.data(
            HISTORY,
            {
                "name": "general",
                "last": 10,
                "before": latest["messages"]["pageInfo"]["startCursor"],
            },
        )
    )["chatRoom"]
    assert [m["text"] for m in older["messages"]["nodes"]] == [f"message {n}" for n in range(3)]
    assert older["messages"]["pageInfo"]["hasPreviousPage"] is False
    assert older["messages"]["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(
    ("input", "expected"),
    [
        ({"room": "general", "text": "   "}, (["text"], "REQUIRED")),
        ({"room": "general", "text": "x" * 2001}, (["text"], "TOO_LONG")),
        ({"room": "nowhere", "text": "hi"}, (["room"], "NOT_FOUND")),
    ],
)
async def test_bad_messages_are_refused(alice: SignedIn, input: dict, expected: tuple) -> None:  # type: ignore[type-arg]
    await create_room(alice, "general")
    data = await alice.client.data(NEW_MESSAGE, {"input": input})
    assert [(e["field"], e["code"]) for e in data["sendMessage"]["userErrors"]] == [
        (list(expected[0]), expected[1])
    ]
    history = await alice.client.data(HISTORY, {"name": "general"})
    assert history["chatRoom"]["messages"]["totalCount"] == 0


async def test_chat_needs_sign_in(anon_client: GraphQLClient, alice: SignedIn) -> None:
    room = await create_room(alice, "general")
    for query, variables in (
        (ROOMS, {}),
        (HISTORY, {"name": "general"}),
        (NEW_MESSAGE, {"input": {"room": "general", "text": "hi"}}),
        (NEW_ROOM, {"input": {"name": "other"}}),
    ):
        assert error_codes(await anon_client.execute(query, variables)) == ["UNAUTHENTICATED"]
    node = await anon_client.data("query($id: ID!) { node(id: $id) { id } }", {"id": room["id"]})
    assert node["node"] is None
    assert (await alice.client.data(HISTORY, {"name": "nowhere"}))["chatRoom"] is None


SET_TYPING = """mutation($input: SetTypingInput!) {
  setTyping(input: $input) { ok userErrors { field code } } }"""


async def test_set_typing_needs_a_room_and_a_user(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    await create_room(alice, "general")
    ok = await alice.client.data(SET_TYPING, {"input": {"room": "general", "typing": True}})
    assert ok["setTyping"] == {"ok": True, "userErrors": []}
    missing = await alice.client.data(SET_TYPING, {"input": {"room": "nowhere", "typing": True}})
    assert missing["setTyping"] == {
        "ok": False,
        "userErrors": [{"field": ["room"], "code": "NOT_FOUND"}],
    }
    body = await anon_client.execute(SET_TYPING, {"input": {"room": "general", "typing": True}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
