"""A room's messages in one order, none skipped: the room's sequence, in commit order.

Why not the id: on PostgreSQL a message draws its id when it is inserted, but others
see it only once its transaction commits, and concurrent senders commit in another
order than they drew. A subscriber resuming after the newest id it had heard skipped a
message with a smaller id that committed later (4 or 5 in 100 concurrent sends).

Why the sequence cannot skip:

1. Sending increments the room's `last_seq` (one UPDATE ... RETURNING) and stores the
   message with the new value, in the same transaction. The UPDATE keeps the room's row
   locked until that transaction ends, and the next sender's UPDATE waits for the lock:
   N + 1 is handed out only once N has committed, or rolled back (then N is handed out
   again). So a room's messages are numbered 1, 2, 3 ... with no hole, in the order they
   committed. SQLite has one writer at a time, which gives the same.
2. Events are published after their commit, but two senders' publishes (through two
   workers, say) may reach a subscriber in either order. A subscriber remembers the
   newest number it delivered, `newest`, and for an event numbered `s`:
   - `s <= newest`: delivered already, from the database or live: dropped;
   - `s == newest + 1`: delivered;
   - `s > newest + 1`: the ones between committed before `s` was handed out (1.), so
     before `s` was published: they are read from the database, in order, then `s`
     follows. One missing there was deleted (with its author or its room), and is not
     in the history either.
3. A subscription listens to the broker before it reads the database, so a message that
   commits after the read reaches it live and one committed before comes from the read.
   Resuming after a message starts after its number; without `after`, after the room's
   `last_seq` as read then.

The broker delivers at most once: an event lost on the way (Redis restarting) leaves a
gap that the room's next event fills.
"""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.chat.models import ChatMessage, ChatRoom
from graphql_api.core.db.engine import Reads
from graphql_api.core.graphql.errors import BadUserInput

PAGE_SIZE = 100  # messages read from the database at a time, each page in a short session
NOT_IN_ROOM = "after must be the ID of a message in this room."
GONE = (
    "after: no message has this ID (it may have been deleted with its author). Read the "
    "room's history, then subscribe after its newest message."
)


async def seq_of(session: AsyncSession, *, room_id: int, message_pk: int) -> int:
    """The number of message `message_pk` in the room; a clear error if it is not there."""
    row = (
        await session.execute(
            select(ChatMessage.room_id, ChatMessage.seq).where(ChatMessage.id == message_pk)
        )
    ).one_or_none()
    if row is None:
        raise BadUserInput(GONE)
    if row.room_id != room_id:
        raise BadUserInput(NOT_IN_ROOM)
    return int(row.seq)


async def last_seq(session: AsyncSession, *, room_id: int) -> int:
    """The number of the room's newest message (0 for none, or for a deleted room)."""
    newest = await session.scalar(select(ChatRoom.last_seq).where(ChatRoom.id == room_id))
    return newest or 0


def message_from_event(event: dict[str, Any]) -> ChatMessage:
    """The message a MessageSent event carries, as if read from the database."""
    return ChatMessage(
        id=event["id"],
        room_id=event["room_id"],
        seq=event["seq"],
        author_id=event["author_id"],
        text=event["text"],
        sent_at=datetime.fromisoformat(event["sent_at"]),
    )


class InOrder:
    """One subscriber's view of a room: each message once, in sequence order (see above)."""

    def __init__(self, reads: Reads, *, room_id: int, newest: int) -> None:
        self.reads = reads
        self.room_id = room_id
        self.newest = newest

    async def stored(self, upto: int | None = None) -> AsyncIterator[ChatMessage]:
        """The stored messages numbered after `newest` up to `upto` (all when None)."""
        while True:
            page = await self._page(upto)
            for message in page:
                self.newest = message.seq
                yield message
            if len(page) < PAGE_SIZE:
                break
        if upto is not None:  # any not found there were deleted
            self.newest = max(self.newest, upto)

    async def receive(self, event: dict[str, Any]) -> AsyncIterator[ChatMessage]:
        """What a MessageSent event brings, in order: nothing, it, or a gap and then it."""
        seq = event["seq"]
        if seq <= self.newest:
            return
        if seq > self.newest + 1:
            async for message in self.stored(seq - 1):
                yield message
        self.newest = seq
        yield message_from_event(event)

    async def _page(self, upto: int | None) -> list[ChatMessage]:
        stmt = select(ChatMessage).where(
            ChatMessage.room_id == self.room_id, ChatMessage.seq > self.newest
        )
        if upto is not None:
            stmt = stmt.where(ChatMessage.seq <= upto)
        # The page is read whole and its connection given back before the subscriber
        # takes the first message: a slow reader holds no connection.
        async with self.reads.session() as session:
            return list(await session.scalars(stmt.order_by(ChatMessage.seq).limit(PAGE_SIZE)))
