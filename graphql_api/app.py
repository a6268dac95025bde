"""The ASGI application: `create_app(settings)`; the lifespan owns engine and shared services."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import text
from strawberry.fastapi import GraphQLRouter

from graphql_api.core.context import AppState, Context, bearer_token
from graphql_api.core.db import create_engine, create_sessionmaker
from graphql_api.core.middleware import RequestIdMiddleware
from graphql_api.core.passwords import PasswordHasher
from graphql_api.core.settings import Settings, load_settings
from graphql_api.core.tokens import TokenCodec
from graphql_api.schema import build_schema
from graphql_api.users.auth import authenticate

logger = logging.getLogger("graphql_api")


class GraphQLApiRouter(GraphQLRouter[Context, None]):
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def _state(app: FastAPI) -> AppState:
    state: AppState = app.state.services
    return state


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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.services = AppState(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            hasher=PasswordHasher(settings),
            tokens=TokenCodec(settings),
            authenticate=authenticate,  # type: ignore[arg-type]
        )
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="graphql_api",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    router = GraphQLApiRouter(
        build_schema(settings),
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
    )
    app.include_router(router, prefix="/graphql")

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Any:
        try:
            async with _state(request.app).engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            logger.exception("readiness check failed: database")
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return {"status": "ok", "database": "up"}

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(RequestIdMiddleware)
    return app
