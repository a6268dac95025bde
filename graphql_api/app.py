"""The ASGI application: `create_app(settings)`; the lifespan owns engine and shared services."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from graphql_api.core.db.migrate import pending_migrations
from graphql_api.core.graphql.context import Context, bearer_token
from graphql_api.core.http import ide
from graphql_api.core.http.fast_path import FastQueries
from graphql_api.core.http.middleware.body_limit import BodySizeLimitMiddleware
from graphql_api.core.http.middleware.request_id import RequestIdMiddleware
from graphql_api.core.http.middleware.security_headers import (
    SecurityHeadersMiddleware,
    security_headers,
)
from graphql_api.core.http.view import PREFLIGHT_HEADERS, GraphQLApiRouter, close_uploads
from graphql_api.core.metrics import exposition
from graphql_api.core.settings import Settings, load_settings
from graphql_api.links.redirect import RedirectShim
from graphql_api.schema import build_schema
from graphql_api.state import AppState, app_services

logger = logging.getLogger("graphql_api")

# Reserved whether or not the route exists yet: clients and operators expect them.
ALWAYS_RESERVED = (
    "graphql",
    "livez",
    "readyz",
    "healthz",
    "metrics",
    "docs",
    "static",
    "api",
    "admin",
    "favicon.ico",
    "robots.txt",
    "sitemap.xml",
)


def _state(app: FastAPI) -> AppState:
    state: AppState = app.state.services
    return state


# FastAPI passes whichever of the two the connection is; it injects them by their bare
# classes only (not `Request | None`).
async def get_context(
    request: Request = None,  # type: ignore[assignment]
    websocket: WebSocket = None,  # type: ignore[assignment]
) -> Context:
    connection = request or websocket
    state = _state(connection.app)
    return Context(
        state,
        token=bearer_token(connection.headers.get("authorization")),
        request_id=connection.scope.get("state", {}).get("request_id", ""),
    )


def reserved_codes(app: FastAPI, settings: Settings) -> frozenset[str]:
    """Codes that would collide with a route of the server, plus configured ones."""
    first_segments = {
        path.strip("/").split("/")[0].lower()
        for route in app.routes
        if (path := getattr(route, "path", "")) and not path.startswith("/{")
    }
    return frozenset(
        first_segments | set(ALWAYS_RESERVED) | {c.lower() for c in settings.reserved_codes}
    )


# What /readyz finds when the process can take traffic.
READY = {"database": "up", "migrations": "applied", "broker": "up"}

# Net new container objects between two young collections (CPython's default: 700).
GC_YOUNG_THRESHOLD = 10_000


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with app_services(settings, reserved) as state:
            app.state.links = state.links
            app.state.services = state
            # Everything built so far lives as long as the process: keep the cyclic garbage
            # collector from walking it again and again (its pauses showed in the p99).
            gc.freeze()
            # A request frees what it made by reference counting (no cycles), so the
            # collector only needs to run when live objects keep growing. At the default
            # 700 it ran about once a request under load, walked the objects of the
            # requests in flight and took 12% of the CPU of a page of users.
            threshold = gc.get_threshold()
            gc.set_threshold(GC_YOUNG_THRESHOLD, *threshold[1:])
            try:
                yield
            finally:
                gc.set_threshold(*threshold)

    app = FastAPI(
        title="graphql_api",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # No OpenTelemetry here: off, its per-request provider checks cost ~20% of a redirect.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    schema = build_schema(settings)
    router = GraphQLApiRouter(
        schema,
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        ide_assets=settings.graphiql_assets_dir,
        multipart_uploads_enabled=True,
        dependencies=[Depends(close_uploads)],
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        sockets_per_address=settings.ws_max_connections_per_address,
        # Browsers let any page open a WebSocket: only these origins (and our own) may.
        allowed_origins=settings.cors_origins,
    )
    app.include_router(router, prefix="/graphql")

    if settings.graphiql_enabled:

        @app.get("/graphql/assets/{name}", include_in_schema=False)
        async def graphiql_asset(name: str) -> Response:
            return ide.asset(name, settings.graphiql_assets_dir)

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Any:
        state = _state(request.app)
        checks = dict(READY)
        try:
            if await pending_migrations(state.engine):
                checks["migrations"] = "pending"
        except Exception:
            logger.exception("readiness check failed: database")
            checks["database"] = "down"
            checks["migrations"] = "unknown"
        try:
            await state.broker.ping()
        except Exception:
            logger.exception("readiness check failed: broker")
            checks["broker"] = "down"
        if checks != READY:
            return JSONResponse({"status": "unavailable", **checks}, status_code=503)
        return {"status": "ok", **checks}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        content, media_type = exposition()
        return Response(content, media_type=media_type)

    # Innermost: queries seen before skip the router and Strawberry's view.
    app.add_middleware(FastQueries, schema=schema)
    # Computed once every route exists: the shim leaves their paths alone.
    reserved = reserved_codes(app, settings)
    app.add_middleware(RedirectShim, reserved=reserved)
    # Inside CORS, so that a too-large request from an allowed origin can read its 413.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            # The upload headers too: a preflight must allow what CSRF protection asks for.
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", *PREFLIGHT_HEADERS],
            # Retry-After is not readable cross-origin unless exposed (rate-limit answers).
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, headers=security_headers(settings.public_url))
    app.add_middleware(RequestIdMiddleware)
    return app
