"""Baseline: a bare Starlette route that answers POST /{name} with precomputed bytes.

The bytes are graphql_api's own answer to workload `name`, read from the JSON file named
by BARE_ANSWERS ({name: answer text}); the route reads the request body, as a server must.
"""

import os
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWERS = {
    name: text.encode()
    for name, text in orjson.loads(Path(os.environ["BARE_ANSWERS"]).read_bytes()).items()
}


async def graphql(request: Request) -> Response:
    await request.body()
    return Response(ANSWERS[request.path_params["name"]], media_type="application/json")


async def livez(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/livez", livez),
        Route("/graphql/{name}", graphql, methods=["POST"]),
    ]
)
