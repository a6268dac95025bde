"""Lean clients for the load generator: HTTP/1.1 POSTs and WebSocket receivers.

httpx and `websockets` took about 1 ms of CPU per request and 20 µs per received frame,
which on a 2-core machine shared with the servers made the load generator the bottleneck.
These do just what the benchmark needs: keep-alive POSTs answered with a Content-Length,
and WebSockets that hand each received message to a callback with the time it was read
from the socket, answer pings and close cleanly.
"""

import asyncio
import base64
import hashlib
import os
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

Message = str | bytes
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_SECONDS = 10.0


class HttpClient:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        fixed = {"Host": f"{self.host}:{self.port}", "Content-Type": "application/json"}
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {**fixed, **headers}.items()).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        request = b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s" % (
            path.encode(),
            self.head,
            len(body),
            body,
        )
        for attempt in (1, 2):
            if self.writer is None or self.reader is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(request)
            try:
                raw = await self.reader.readuntil(b"\r\n\r\n")
                break
            except asyncio.IncompleteReadError as exc:
                # The server closed the idle connection as the request went out (its
                # keep-alive timeout): nothing of it was read, so it is sent again once.
                await self.close()
                if exc.partial or attempt == 2:
                    raise
        assert self.reader is not None
        head = raw.decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        if "content-length" not in fields:
            raise RuntimeError(f"no Content-Length in the answer: {head}")
        answer = await self.reader.readexactly(int(fields["content-length"]))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, answer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
        self.reader = self.writer = None


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame: final, masked (as RFC 6455 requires of clients)."""
    key = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    mask = int.from_bytes((key * (size // 4 + 1))[:size], "big")
    masked = (int.from_bytes(payload, "big") ^ mask).to_bytes(size, "big") if size else b""
    return header + key + masked


class WebSocket(asyncio.Protocol):
    """A client WebSocket. Messages go to `on_message` (or, until it is set, `recv()`)."""

    def __init__(self, key: bytes, subprotocol: str | None) -> None:
        self.key = key
        self.subprotocol = subprotocol
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.open = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.on_message: Callable[[Message, int], None] | None = None
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.close_code: int | None = None
        self.handshake_done = False
        self.error: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP connection's

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        self.buffer += data
        if not self.handshake_done:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.finish_handshake(bytes(self.buffer[:end]).decode("latin-1"))
            del self.buffer[: end + 4]
            if not self.handshake_done:
                return
        self.read_frames(now)

    def finish_handshake(self, head: str) -> None:
        lines = head.split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()
        if lines[0].split()[1] != "101" or fields.get("sec-websocket-accept") != accept:
            self.open.set_exception(ConnectionError(f"handshake refused: {lines[0]}"))
        elif self.subprotocol and fields.get("sec-websocket-protocol") != self.subprotocol:
            self.open.set_exception(ConnectionError(f"no subprotocol {self.subprotocol}"))
        else:
            self.handshake_done = True
            self.open.set_result(None)

    def read_frames(self, now: int) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            size, start = second & 0x7F, 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size, start = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + size:
                return
            payload = bytes(buffer[start : start + size])
            del buffer[: start + size]
            opcode = first & 0x0F
            if not first & 0x80 or second & 0x80 or opcode == 0:
                self.error = "a fragmented or masked frame (not supported here)"
                if self.transport is not None:
                    self.transport.abort()
                return
            if opcode in (TEXT, BINARY):
                message: Message = payload.decode() if opcode == TEXT else payload
                if self.on_message is None:
                    self.inbox.put_nowait(message)
                else:
                    self.on_message(message, now)
            elif opcode == PING:
                self.write(PONG, payload)
            elif opcode == CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if payload else 1005
                if self.transport is not None and not self.transport.is_closing():
                    self.write(CLOSE, payload[:2])
                    self.transport.close()

    def write(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(opcode, payload))

    def send(self, text: str) -> None:
        self.write(TEXT, text.encode())

    async def recv(self) -> Message:
        """The next message, while no `on_message` is set."""
        if not self.inbox.empty():
            return self.inbox.get_nowait()
        getter = asyncio.ensure_future(self.inbox.get())
        try:
            await asyncio.wait([getter, self.closed], return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled: a message that came stays in the inbox
            getter.cancel()
            raise
        if not getter.done():
            getter.cancel()
            raise ConnectionError(f"closed ({self.close_code}) {self.error or ''}")
        return getter.result()

    async def close(self) -> None:
        """Send a close frame and wait for the server's answer (then the TCP close)."""
        self.write(CLOSE, (1000).to_bytes(2, "big"))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), CLOSE_SECONDS)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()


async def connect(url: str, subprotocol: str | None = None) -> WebSocket:
    """Open a WebSocket to ws://host:port/path (and ?query, if any)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16))
    loop = asyncio.get_running_loop()
    transport, websocket = await loop.create_connection(
        lambda: WebSocket(key, subprotocol), host, port
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    protocol_line = f"Sec-WebSocket-Protocol: {subprotocol}\r\n" if subprotocol else ""
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
        f"Sec-WebSocket-Version: 13\r\n{protocol_line}\r\n"
    )
    transport.write(request.encode())
    await websocket.open
    return websocket
