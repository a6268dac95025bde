"""The baseline: a bare Starlette app whose one route answers every code with a redirect."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

LOCATION = "https://example.com/landing-page"


async def redirect(request: Request) -> Response:
    return Response(b"", 302, {"Location": LOCATION, "Cache-Control": "no-store"})


app = Starlette(routes=[Route("/{code}", redirect)])
