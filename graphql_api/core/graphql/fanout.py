"""Subscription events executed once per shape, and the same bytes written to every socket.

Each subscriber of a busy room used to do all the work of every event itself: its own
broker queue and generator, graphql-core's execution of its selection, Strawberry's
handling of the result, its own encoding; 230 µs an event where a bare broadcast spends
15. Here the subscribers of a channel, in one process, share a `Feed`:

1. A resolver that can share (`Fanout.of(info)`: a WebSocket operation, with
   `subscription_fanout` on) joins the feed of its channel before it reads anything, so
   that nothing committed meanwhile is missed, catches up through Strawberry as before
   (history), then yields `member.live()`. `follow`, which graphql-core's executor
   wraps every subscription's source in, runs the member's live phase there with the
   subscription's own executor: from then on the feed writes its frames.
2. A feed takes its channel's events once (one broker subscription per channel and
   process), and the feature makes each into an `Output` once: the root value, its
   position if the channel is ordered, and a check to ask of the shapes that need it.
3. For each output, each group of members of one shape executes it once, through one
   member's executor (the very call graphql-core makes per event), masks and logs its
   errors as Strawberry would, encodes the payload once, frames it once per protocol and
   operation id, and writes the same string to every socket of the group.

A shape is the document, operationName and variables. What the viewer may see is not
guessed from the selection: each context counts its reads of who is asking (its token,
the client's address, a signed-in check: `Context.requester_reads`). An execution that
read none of it answered what anyone would get, and goes to the whole group; one that
did is run again per requester (token and address, `Context.requester`), and each
answer goes to that requester's sockets alone.

Each socket writes a frame at once if it takes it without waiting, and otherwise queues
it for itself alone: a slow socket never holds up the others. Past `OUTBOX_SIZE` queued
frames (or `OUTBOX_BYTES`) the member is cut off (SLOW_CONSUMER), after what was queued.
"""

import asyncio
import contextvars
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from graphql import ExecutionResult

from graphql_api.core.graphql.errors import FellBehind
from graphql_api.core.graphql.masking import log_errors, mask_errors

if TYPE_CHECKING:  # the context holds the feeds: it imports this module
    from graphql_api.core.graphql.context import Context, Info

OUTBOX_SIZE = 256  # frames a socket may have queued before its member is cut off
OUTBOX_BYTES = 1 << 20  # and their characters
PENDING_SIZE = 4096  # outputs a member catching up may have waiting for it


class Sink(Protocol):
    """Where one operation's frames go: set by the WebSocket handler while it runs one."""

    @property
    def shape(self) -> Hashable | None:
        """The operation's document, operationName and variables: members of one shape
        share an execution. None: this operation shares none."""
        ...

    @property
    def frame_key(self) -> Hashable:
        """What `frame` depends on besides the payload: (protocol, operation id)."""
        ...

    @property
    def operation_name(self) -> str | None: ...

    def frame(self, payload: bytes) -> str:
        """The protocol's message for a result whose encoded payload is `payload`."""
        ...

    def open(self) -> bool:
        """Whether the operation still runs (the client has not completed it)."""
        ...

    def write(self, frame: str) -> bool:
        """Send `frame` now, or queue it behind the socket's earlier ones; False once the
        socket has `OUTBOX_SIZE` queued."""
        ...

    async def drained(self) -> None:
        """Return once the socket has sent what was queued (or is gone)."""
        ...


current_sink: contextvars.ContextVar[Sink | None] = contextvars.ContextVar(
    "graphql_api_sink", default=None
)


@dataclass(slots=True)
class Output:
    """One event of a channel, as the feature makes it for every member alike."""

    root: Any  # the subscription field's value for the event
    # Ordered channels: each member takes a position once, rising, and skips what it had.
    position: int | None = None
    # Asked once per output (with some member's context) for the members that `checks`;
    # False: they do not get it.
    check: "Callable[[Context], Awaitable[bool]] | None" = None
    serial: int = 0  # the feed's count of outputs so far: each member takes one once


Start = Callable[[], AbstractAsyncContextManager[AsyncIterator[Output]]]


def _retrieved(future: "asyncio.Future[Any]") -> None:
    """Mark an error as seen: no one awaits a feed that failed after its members left."""
    if not future.cancelled():
        future.exception()


class Member:
    """One subscription on a feed."""

    __slots__ = (
        "checks",
        "context",
        "ended",
        "error",
        "executor",
        "feed",
        "group",
        "pending",
        "position",
        "serial",
        "sink",
    )

    def __init__(self, feed: "Feed", context: "Context", sink: Sink, checks: bool) -> None:
        self.feed = feed
        self.context = context
        self.sink = sink
        self.checks = checks
        self.position = 0  # set by the resolver as it catches up
        self.serial = 0
        self.pending: deque[Output] | None = deque()  # None once it is live
        self.executor: Any = None
        self.group: list[Member] | None = None  # the live members of its shape
        self.ended = asyncio.Event()
        self.error: BaseException | None = None  # what ended it, if not the feed's end

    def takes(self, output: Output) -> bool:
        """Whether this member gets `output`: once, not at a position it had, and not once
        it has ended."""
        if output.serial <= self.serial or self.ended.is_set():
            return False
        self.serial = output.serial
        if output.position is None:
            return True
        if output.position <= self.position:
            return False
        self.position = output.position
        return True

    def live(self, until: AsyncIterator[Any] | None = None) -> "Live":
        """What the resolver yields once it has caught up: the feed takes over. Whatever
        `until` raises (a session that ended) ends the member."""
        return Live(self, until)

    def end(self, error: BaseException | None = None) -> None:
        if not self.ended.is_set():
            self.error = error
            self.ended.set()

    async def run_live(self, executor: Any, until: AsyncIterator[Any] | None) -> None:
        """Deliver what came while catching up, then be fed until the feed ends; an error
        that ends the member (a slow socket, `until` raising) is raised, as the resolver
        would have raised it."""
        self.executor = executor
        watcher = asyncio.create_task(_drain(until)) if until is not None else None
        if watcher is not None:
            watcher.add_done_callback(self._watched)
        try:
            assert self.pending is not None
            while self.pending:
                output = self.pending.popleft()
                if self.takes(output) and await self.feed.passes(output, self):
                    await _deliver([self], output.root)
            self.pending = None
            self.feed.add_live(self)
            await self.ended.wait()
        finally:
            self.feed.leave(self)
            if watcher is not None:
                watcher.cancel()
        # What was queued goes before the end (as a broker queue's did). Cancelled (the
        # client completed it, or went), the operation waits for nothing.
        await self.sink.drained()
        # Raised from here, not held: the error's traceback holds this frame.
        error, self.error = self.error, None
        if error is not None:
            raise error

    def _watched(self, watcher: "asyncio.Task[None]") -> None:
        if not watcher.cancelled() and (error := watcher.exception()) is not None:
            self.end(error)


def _let_go(task: "asyncio.Task[None]") -> None:
    """Take a cancelled feed's error: its traceback holds the feed, which holds the task."""
    if task.cancelled():
        with suppress(asyncio.CancelledError):
            task.result()


async def _drain(events: AsyncIterator[Any]) -> None:
    async for _ in events:
        pass


@dataclass(frozen=True, slots=True)
class Live:
    """The value a member's resolver yields to begin its live phase (see `follow`)."""

    member: Member
    until: AsyncIterator[Any] | None


async def follow(source: AsyncIterator[Any], executor: Any) -> AsyncIterator[Any]:
    """A subscription's source events, with its members' live phases run in place.

    graphql-core passes every subscription's source through the executor's
    `cancellable_iterable`, which wraps it in this (`core.graphql.internals`). A `Live`
    is not an event: the member's live phase runs here, with the subscription's own
    executor, and the source goes on once it is over, as it would after its last event.
    """
    try:
        async for value in source:
            if isinstance(value, Live):
                await value.member.run_live(executor, value.until)
            else:
                yield value
    finally:
        if (aclose := getattr(source, "aclose", None)) is not None:
            await aclose()


async def _deliver(members: list[Member], root: Any) -> None:
    """Execute `root` for these members of one shape, once per viewer that matters, and
    write each member its frame."""
    first = members[0]
    answer, asked = await _execute(first, root)
    if not asked:
        _write(members, answer)
        return
    # Read now, not at joining: a graphql-ws client may send connection_init again.
    by_viewer: dict[Any, list[Member]] = {}
    for member in members:
        by_viewer.setdefault(member.context.requester(), []).append(member)
    _write(by_viewer.pop(first.context.requester()), answer)
    # The viewers' executions wait on the database side by side.
    others = list(by_viewer.values())
    answers = await asyncio.gather(*(_execute(viewers[0], root) for viewers in others))
    for viewers, (answer, _) in zip(others, answers, strict=True):
        _write(viewers, answer)


async def _execute(member: Member, root: Any) -> tuple[ExecutionResult, bool]:
    """`root` executed as graphql-core executes a subscription event for `member`, and
    whether that read who is asking."""
    context = member.context
    context.forget()  # a connection lives long: nothing cached goes stale
    asked = context.requester_reads
    result = member.executor.build_per_event_executor(root).execute_operation(False)
    if member.executor.is_awaitable(result):
        result = await result
    return result, context.requester_reads != asked


def _write(members: list[Member], result: ExecutionResult) -> None:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        first = members[0]
        log_errors(
            result.errors, request_id=first.context.request_id, operation=first.sink.operation_name
        )
        payload["errors"] = [error.formatted for error in mask_errors(result.errors)]
    encoded = orjson.dumps(payload)
    frames: dict[Hashable, str] = {}
    for member in members:
        sink = member.sink
        if not sink.open():
            continue
        frame = frames.get(sink.frame_key)
        if frame is None:
            frame = frames[sink.frame_key] = sink.frame(encoded)
        if not sink.write(frame):
            member.end(FellBehind())


class Feed:
    """One channel's events in this process, for every member that joined it."""

    def __init__(self, feeds: "Feeds", key: Hashable, start: Start) -> None:
        self.feeds = feeds
        self.key = key
        self.start = start
        self.joining: set[Member] = set()
        self.groups: dict[Hashable, list[Member]] = {}  # live members by shape
        self.count = 0  # members, joining or live
        # Reading or executing: cancelled then, a read would be cut off as its
        # connection went back to the pool. Between outputs it waits on the broker.
        self.busy = True
        self.serial = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ready.add_done_callback(_retrieved)
        # A context of its own: the one of the member that started it holds its operation.
        self.task = asyncio.create_task(
            self._run(), name=f"feed {key}", context=contextvars.Context()
        )
        self.task.add_done_callback(_let_go)

    async def _run(self) -> None:
        try:
            async with self.start() as outputs:
                self.ready.set_result(None)
                self.busy = False
                if not self.count:
                    return  # the last member left while it started
                async for output in outputs:
                    self.busy = True
                    await self._dispatch(output)
                    self.busy = False
                    if not self.count:
                        return  # the last member left as it was dispatched
            # The broker closed (the server stops): the subscriptions end, as theirs did.
            for member in [*self.joining, *self._live()]:
                member.end()
        except Exception as error:
            if not self.ready.done():
                self.ready.set_exception(error)
            for member in [*self.joining, *self._live()]:
                member.end(error)
        finally:
            self.feeds.forget(self)

    def _live(self) -> list[Member]:
        return [member for group in self.groups.values() for member in group]

    async def _dispatch(self, output: Output) -> None:
        self.serial += 1
        output.serial = self.serial
        for member in self.joining:
            if member.pending is not None:
                if len(member.pending) >= PENDING_SIZE:
                    member.end(FellBehind())
                else:
                    member.pending.append(output)
        checked: bool | None = None
        for group in list(self.groups.values()):
            takers = [member for member in group if member.takes(output)]
            if not takers:
                continue
            if output.check is not None and takers[0].checks:
                if checked is None:  # once for the output, whoever asks
                    checked = await self.passes(output, takers[0])
                if not checked:
                    continue
            await _deliver(takers, output.root)

    @staticmethod
    async def passes(output: Output, member: Member) -> bool:
        """Whether `member` gets `output` as far as the output's check goes."""
        if output.check is None or not member.checks:
            return True
        member.context.forget()
        return await output.check(member.context)

    def join(self, member: Member) -> None:
        self.count += 1
        self.joining.add(member)

    def add_live(self, member: Member) -> None:
        self.joining.discard(member)
        group = self.groups.setdefault(member.sink.shape, [])
        group.append(member)
        member.group = group

    def leave(self, member: Member) -> None:
        if member in self.joining:
            self.joining.discard(member)
        elif (group := member.group) is not None:
            group.remove(member)
            member.group = None
            if not group:
                del self.groups[member.sink.shape]
        else:
            return
        self.count -= 1
        if not self.count:
            self.feeds.forget(self)  # a member arriving now starts a new one
            if not self.busy:
                self.task.cancel()


class Feeds:
    """The feeds of this process, by channel."""

    def __init__(self) -> None:
        self._feeds: dict[Hashable, Feed] = {}

    def feed(self, key: Hashable, start: Start) -> Feed:
        feed = self._feeds.get(key)
        if feed is None or feed.task.done():
            feed = self._feeds[key] = Feed(self, key, start)
        return feed

    def forget(self, feed: Feed) -> None:
        if self._feeds.get(feed.key) is feed:
            del self._feeds[feed.key]


class Fanout:
    """A resolver's way onto a feed, where this operation can share one."""

    def __init__(self, info: "Info", sink: Sink) -> None:
        self.info = info
        self.sink = sink

    @classmethod
    def of(cls, info: "Info") -> "Fanout | None":
        sink = current_sink.get()
        if sink is None or sink.shape is None or not info.context.settings.subscription_fanout:
            return None
        return cls(info, sink)

    @asynccontextmanager
    async def join(
        self, key: Hashable, start: Start, *, checks: bool = False
    ) -> AsyncIterator[Member]:
        """Be a member of the feed `key` (started by `start` if it is new) for the block:
        its outputs wait for the member from now on. `checks`: the outputs' checks apply
        to this member."""
        context = self.info.context
        feed = context.state.feeds.feed(key, start)
        member = Member(feed, context, self.sink, checks)
        feed.join(member)
        try:
            await asyncio.shield(feed.ready)
            yield member
        finally:
            feed.leave(member)
