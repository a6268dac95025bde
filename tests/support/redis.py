"""The test Redis, and a TCP relay to it that counts what it carries, can delay it or
cut the line (between one client and the real Redis only, so the other tests' server
stays untouched)."""

import asyncio
import contextlib
import os
from urllib.parse import urlsplit

import pytest
import redis.asyncio

from tests.support.settings import IN_CI

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def redis_reachable() -> None:
    """Skips the test without the test Redis (fails it under CI=true)."""
    client = redis.asyncio.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is not reachable: {exc} (CI=true)")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    finally:
        await client.aclose()


class Relay:
    """Carries bytes both ways; `delay` holds what the client sends for that long."""

    def __init__(self, target: str, *, delay: float = 0.0) -> None:
        self.target = urlsplit(target)
        self.delay = delay
        self.connections = 0
        self.bytes = 0
        self.up = True
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()

    async def start(self) -> str:
        """The URL of a Redis that is the test's, through this relay."""
        self._server = await asyncio.start_server(self._carry, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self.target.path}"

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if not self.up:
            writer.close()
            return
        upstream_reader, upstream = await asyncio.open_connection(
            self.target.hostname, self.target.port
        )
        self._streams |= {writer, upstream}

        async def pump(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float
        ) -> None:
            with contextlib.suppress(OSError):
                while chunk := await source.read(65536):
                    self.bytes += len(chunk)
                    if delay:
                        await asyncio.sleep(delay)  # the slow line under test, not a wait
                    sink.write(chunk)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, upstream, self.delay), pump(upstream_reader, writer, 0.0))

    def cut(self) -> None:
        """Redis is gone: open connections drop, new ones are closed at once."""
        self.up = False
        for stream in self._streams:
            stream.close()
        self._streams.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
