"""The REST shim: `GET|HEAD /{code}` answers with a redirect, and `/{code}/qr.svg`.

It is the hottest path of the server, so it is a plain ASGI middleware in front of the
router: a path that can only be a short code (its first segment is no route's) is
answered here with a dict lookup, an append to the visit buffer and two ASGI messages;
every other request passes through untouched, so the shim can never shadow `/graphql`
or the health endpoints. Measured with `scripts/bench-redirect` (see docs/performance.md).
"""

import html
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from graphql_api.core.broker import Broker
from graphql_api.core.clock import utcnow
from graphql_api.core.metrics import record_redirect
from graphql_api.core.ratelimit import Limit, RateLimiter, address_key
from graphql_api.links.agents import is_bot
from graphql_api.links.cache import LinkCache, LinkSnapshot
from graphql_api.links.qr import QrCodes
from graphql_api.links.recorder import PendingVisit, VisitRecorder, VisitsBacklogged
from graphql_api.links.service import LinkRules

MAX_REFERRER = 1024
MAX_USER_AGENT = 512
_PATH = re.compile(r"/([A-Za-z0-9_-]{1,64})(/qr\.svg)?")
_NOT_FOUND = "No link has this address."
_UNAVAILABLE = "Links cannot be looked up right now: try again in a moment."
_BACKLOGGED = "Too many visits are waiting to be recorded: try again in a moment."
logger = logging.getLogger("graphql_api.links")


LINKS_CHANGED = "links:changed"


@dataclass
class LinkRuntime:
    """The links feature's long-lived parts, owned by the app's lifespan."""

    cache: LinkCache
    recorder: VisitRecorder
    rules: LinkRules
    public_url: str
    broker: Broker
    qr_codes: QrCodes = field(default_factory=QrCodes)

    def short_url(self, code: str) -> str:
        return f"{self.public_url}/{code}"

    async def qr_code(self, code: str) -> str:
        """The SVG QR code of the short link, drawn off the event loop."""
        return await self.qr_codes.svg(self.short_url(code))

    async def changed(self, code: str) -> None:
        """A link was written: drop cached copies here at once, and in every process."""
        self.cache.invalidate(code)
        await self.broker.publish(LINKS_CHANGED, {"code": code})

    async def owner_deleted(self, owner_id: int) -> None:
        """A user and so all their links went: drop them here at once, and in every process.

        By owner, not by code: the codes would have to be read before the deletion, and a
        link created meanwhile would be missed.
        """
        self.cache.invalidate_owner(owner_id)
        await self.broker.publish(LINKS_CHANGED, {"owner": owner_id})

    async def follow_changes(self) -> None:
        """Drop cached copies of links changed by other processes (runs for the app's life)."""
        async with self.broker.subscribe(LINKS_CHANGED, queue_size=10_000) as changes:
            async for change in changes:
                if "owner" in change:
                    self.cache.invalidate_owner(change["owner"])
                else:
                    self.cache.invalidate(change["code"])


def gone_reason(link: LinkSnapshot, now: datetime) -> str | None:
    """Why the link does not redirect now, or None when it does."""
    if not link.is_active:
        return "This link has been disabled."
    if link.valid_since is not None and now < link.valid_since:
        return "This link is not valid yet."
    if link.expires_at is not None and now >= link.expires_at:
        return "This link has expired."
    if link.used_up:
        return "This link has reached its maximum number of visits."
    return None


def _body(wants_json: bool, status: int, message: str, location: str | None) -> bytes:
    if wants_json:
        return orjson.dumps({"location": location} if location else {"error": message})
    text = html.escape(message)
    if location is not None:
        href = html.escape(location, quote=True)
        text = f'{text} <a href="{href}">{href}</a>'
    return f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{text}</p>\n".encode()


async def _answer(
    send: Send,
    scope: Scope,
    status: int,
    body: bytes,
    content_type: bytes,
    *extra: tuple[bytes, bytes],
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
    record_redirect(status)


class RedirectShim:
    """Answers `/{code}` and `/{code}/qr.svg`; passes on anything a route may own."""

    def __init__(self, app: ASGIApp, reserved: frozenset[str]) -> None:
        self.app = app
        self.reserved = reserved

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = _PATH.fullmatch(scope["path"])
        if match is None or match[1].lower() in self.reserved:
            await self.app(scope, receive, send)
            return
        runtime: LinkRuntime = scope["app"].state.links
        headers = dict(scope["headers"])
        accept = headers.get(b"accept", b"")
        wants_json = b"json" in accept and b"html" not in accept
        content_type = b"application/json" if wants_json else b"text/html; charset=utf-8"
        try:
            await self._serve(scope, send, runtime, match, headers, wants_json, content_type)
        except SQLAlchemyError:
            logger.exception("redirect of %s: database unavailable", match[1])
            await _answer(
                send,
                scope,
                503,
                _body(wants_json, 503, _UNAVAILABLE, None),
                content_type,
                (b"retry-after", b"1"),
            )

    async def _serve(
        self,
        scope: Scope,
        send: Send,
        runtime: LinkRuntime,
        match: re.Match[str],
        headers: dict[bytes, bytes],
        wants_json: bool,
        content_type: bytes,
    ) -> None:
        link = await runtime.cache.get(match[1])
        if link is None:
            await self._not_found(scope, send, wants_json, content_type)
        elif match[2]:
            svg = await runtime.qr_code(link.code)
            await _answer(send, scope, 200, svg.encode(), b"image/svg+xml")
        else:
            await self._redirect(scope, send, runtime, link, headers, wants_json, content_type)

    @staticmethod
    async def _not_found(scope: Scope, send: Send, wants_json: bool, content_type: bytes) -> None:
        """404, or 429 for an address that asked for too many unknown codes (a scan).

        Only unknown codes are counted and refused: a known link always answers, so a
        popular one is never throttled, however many people share an address.
        """
        limits: RateLimiter = scope["app"].state.services.rate_limits
        client = scope.get("client")
        address = address_key(client[0] if client else None)
        retry_after = await limits.hit(Limit.NOT_FOUND_PER_ADDRESS, address)
        if retry_after is None:
            await _answer(send, scope, 404, _body(wants_json, 404, _NOT_FOUND, None), content_type)
            return
        body = f"Too many requests for unknown links: try again in {retry_after} seconds.\n"
        await _answer(
            send,
            scope,
            429,
            body.encode(),
            b"text/plain; charset=utf-8",
            (b"retry-after", str(retry_after).encode()),
        )

    @staticmethod
    async def _redirect(
        scope: Scope,
        send: Send,
        runtime: LinkRuntime,
        link: LinkSnapshot,
        headers: dict[bytes, bytes],
        wants_json: bool,
        content_type: bytes,
    ) -> None:
        now = utcnow()
        if reason := gone_reason(link, now):
            await _answer(send, scope, 410, _body(wants_json, 410, reason, None), content_type)
            return
        if scope["method"] == "GET":  # HEAD only looks: not a visit
            user_agent = headers.get(b"user-agent", b"").decode("latin-1")[:MAX_USER_AGENT]
            referrer = headers.get(b"referer", b"").decode("latin-1")[:MAX_REFERRER]
            counted = link.max_visits is not None and not is_bot(user_agent)
            visit = PendingVisit(link.id, now, referrer or None, user_agent or None, counted)
            try:
                kept = await runtime.recorder.record(visit)
            except VisitsBacklogged:
                # Not redirected, so that no redirect answered goes unrecorded.
                busy = _body(wants_json, 503, _BACKLOGGED, None)
                await _answer(send, scope, 503, busy, content_type, (b"retry-after", b"1"))
                return
            if not kept:
                link.used_up = True
                await _answer(
                    send,
                    scope,
                    410,
                    _body(wants_json, 410, gone_reason(link, now) or "", None),
                    content_type,
                )
                return
        body = link.bodies.get(wants_json)
        if body is None:  # rendered once per link and kind, then kept with the snapshot
            body = link.bodies[wants_json] = _body(
                wants_json, link.redirect_status, "Redirecting to", link.target_url
            )
        await _answer(
            send,
            scope,
            link.redirect_status,
            body,
            content_type,
            (b"location", link.target_url.encode("ascii")),
        )
