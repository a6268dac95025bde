"""Baseline: graphql_api's schema served the tutorial way, as Strawberry's docs show it.

The same types, resolvers, loaders and services as graphql_api, on the same database, but
with Strawberry's defaults everywhere else: `strawberry.Schema` with no extensions (no
parser or validation cache), its `GraphQLRouter` with the standard `json` encoder and
graphql-core's executor, and no middleware. Run by uvicorn with `GRAPHQL_API_*` settings
from the environment, as `graphql-api serve` would be.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import strawberry
from fastapi import FastAPI
from strawberry.fastapi import GraphQLRouter

from graphql_api.app import app_services, get_context
from graphql_api.core.settings import load_settings
from graphql_api.schema import Mutation, Query, Subscription, schema_types

settings = load_settings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with app_services(settings, reserved=frozenset()) as state:
        app.state.services = state
        yield


app = FastAPI(lifespan=lifespan)
schema = strawberry.Schema(
    query=Query, mutation=Mutation, subscription=Subscription, types=schema_types()
)
app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphql")


@app.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}
