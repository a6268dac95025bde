"""Security headers on every HTTP response, and the Content-Security-Policy of a page.

Every response is marked not to be sniffed, framed or given a full referrer. Only one
response is a page meant to run, GraphiQL, and it carries a policy built from its own
HTML (`page_policy`); everything else (JSON, text, the redirect's one-line HTML, the
QR code's SVG) gets a policy under which a browser loads and runs nothing.
"""

import base64
import hashlib
from html.parser import HTMLParser
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS_MAX_AGE = 31_536_000  # a year: what browsers' preload lists ask for


def security_headers(public_url: str) -> list[tuple[bytes, bytes]]:
    """The headers for every response; HSTS only if the server is reached over https."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        # The origin at most, never a path: short codes and GraphiQL's query strings stay.
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"x-frame-options", b"DENY"),  # for browsers that predate frame-ancestors
        (b"content-security-policy", NOTHING_POLICY.encode()),
    ]
    if urlsplit(public_url).scheme == "https":
        # Over plain http a browser ignores it, and a test server on http must not pin.
        headers.append(
            (b"strict-transport-security", f"max-age={HSTS_MAX_AGE}; includeSubDomains".encode())
        )
    return headers


class SecurityHeadersMiddleware:
    """Adds `headers` to each HTTP response that does not already set them itself."""

    def __init__(self, app: ASGIApp, *, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _url_source(url: str) -> str:
    """The source expression for an asset URL: itself, or 'self' for one on this server."""
    return url if urlsplit(url).scheme in ("http", "https") else "'self'"


def _sha256_source(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


class _PageResources(HTMLParser):
    """The scripts and stylesheets a page loads, and its inline ones as CSP hashes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._inline: str | None = None  # the tag whose text is being collected
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and (src := attributes.get("src")):
            self.scripts.append(_url_source(src))
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            if href := attributes.get("href"):
                self.styles.append(_url_source(href))
        elif tag in ("script", "style"):
            self._inline, self._text = tag, []

    def handle_data(self, data: str) -> None:
        if self._inline is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inline:
            # A browser hashes the element's text exactly as it stands in the page.
            target = self.scripts if tag == "script" else self.styles
            target.append(_sha256_source("".join(self._text)))
            self._inline = None


def _sources(sources: list[str]) -> str:
    return " ".join(dict.fromkeys(sources)) or "'none'"


def page_policy(html: str) -> str:
    """A policy that lets this page load exactly its own scripts and stylesheets.

    Sources are the exact URLs the page names (and hashes of its inline blocks), so a
    page that moves its assets elsewhere, or serves them itself, gets a matching policy.
    """
    page = _PageResources()
    page.feed(html)
    page.close()
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {_sources(page.scripts)}",
            # No 'unsafe-inline': GraphiQL's dialogs then cannot add their scroll-lock
            # <style>, which a page whose body never scrolls does not need.
            f"style-src {_sources(page.styles)}",
            # GraphiQL's stylesheet inlines its fonts and icons, the page its favicon.
            "img-src data:",
            "font-src data:",
            # Queries over fetch, subscriptions over a WebSocket: both to this server
            # ('self' covers ws: and wss: on the same host and port).
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
