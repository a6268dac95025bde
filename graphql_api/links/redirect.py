"""The REST shim: `GET|HEAD /{code}` answers with a redirect, and `/{code}/qr.svg`.

Plain Starlette routes: the redirect is the hottest path of the server, so it does a
dict lookup, appends the visit to a buffer and answers, with no dependency injection
and no database round trip (except for links with a visit cap).
"""

import html
from dataclasses import dataclass
from datetime import datetime

import orjson
import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphql_api.core.db import utcnow
from graphql_api.links.agents import is_bot
from graphql_api.links.cache import LinkCache, LinkSnapshot
from graphql_api.links.recorder import PendingVisit, VisitRecorder
from graphql_api.links.service import LinkRules

MAX_REFERRER = 1024
MAX_USER_AGENT = 512


@dataclass
class LinkRuntime:
    """The links feature's long-lived parts, owned by the app's lifespan."""

    cache: LinkCache
    recorder: VisitRecorder
    rules: LinkRules
    public_url: str

    def short_url(self, code: str) -> str:
        return f"{self.public_url}/{code}"


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


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and "html" not in accept


def _answer(request: Request, status: int, message: str, location: str | None = None) -> Response:
    headers = {"Cache-Control": "no-store"}
    if location is not None:
        headers["Location"] = location
    if _wants_json(request):
        body = {"location": location} if location else {"error": message}
        return Response(orjson.dumps(body), status, headers, "application/json")
    text = html.escape(message)
    if location is not None:
        href = html.escape(location, quote=True)
        text = f'{text} <a href="{href}">{href}</a>'
    page = f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{text}</p>\n"
    return Response(page, status, headers, "text/html")


async def redirect(request: Request) -> Response:
    runtime: LinkRuntime = request.app.state.links
    link = await runtime.cache.get(request.path_params["code"])
    if link is None:
        return _answer(request, 404, "No link has this address.")
    now = utcnow()
    if reason := gone_reason(link, now):
        return _answer(request, 410, reason)
    if request.method == "GET":  # HEAD only looks: not a visit
        user_agent = request.headers.get("user-agent")
        referrer = request.headers.get("referer")
        counted = link.max_visits is not None and not is_bot(user_agent)
        if counted and not await runtime.recorder.reserve(link.id):
            link.used_up = True
            return _answer(request, 410, gone_reason(link, now) or "")
        runtime.recorder.record(
            PendingVisit(
                link_id=link.id,
                visited_at=now,
                referrer=referrer[:MAX_REFERRER] if referrer else None,
                user_agent=user_agent[:MAX_USER_AGENT] if user_agent else None,
                counted=counted,
            )
        )
    return _answer(request, link.redirect_status, "Redirecting to", link.target_url)


def qr_svg(data: str) -> str:
    """An SVG QR code for `data` (segno: pure Python, maintained)."""
    return segno.make(data, error="m").svg_inline(scale=4, border=2)


async def qr_code(request: Request) -> Response:
    runtime: LinkRuntime = request.app.state.links
    code = request.path_params["code"]
    if await runtime.cache.get(code) is None:
        return _answer(request, 404, "No link has this address.")
    return Response(
        qr_svg(runtime.short_url(code)),
        200,
        {"Cache-Control": "public, max-age=86400"},
        "image/svg+xml",
    )


routes = [
    Route("/{code}/qr.svg", qr_code, methods=["GET", "HEAD"]),
    Route("/{code}", redirect, methods=["GET", "HEAD"]),
]
