"""Security headers on every HTTP response, and the Content-Security-Policy of a page.

Every response is marked not to be sniffed, framed or given a full referrer. Only one
response is a page meant to run, GraphiQL, and it carries a policy that lets it load its
own files from this server (`GRAPHIQL_POLICY`); everything else (JSON, text, the
redirect's one-line HTML, the QR code's SVG) gets a policy under which a browser loads
and runs nothing.
"""

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


# GraphiQL's page (`core.http.ide`) loads its scripts and stylesheets from this server and
# has nothing inline, so 'self' is all it may load or run.
GRAPHIQL_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # No 'unsafe-inline': GraphiQL's dialogs then cannot add their scroll-lock
        # <style>, which a page whose body never scrolls does not need.
        "style-src 'self'",
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
