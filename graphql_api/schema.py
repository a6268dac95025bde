"""The one place that assembles Query and Mutation from the features."""

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, SchemaExtension
from strawberry.types import ExecutionContext

from graphql_api.chat.mutations import ChatMutations
from graphql_api.chat.queries import ChatQueries, chat_room_by_pk
from graphql_api.chat.subscriptions import ChatSubscriptions
from graphql_api.chat.types import ChatMessageType, ChatRoomType
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.documents.cache import DocumentCache
from graphql_api.core.graphql.documents.trusted import trusted_documents_extension
from graphql_api.core.graphql.engine.run import PlanCache
from graphql_api.core.graphql.execution import GraphQLApiExecutor, OperationContext, QuietExecutor
from graphql_api.core.graphql.internals import ExecutionContextSchema
from graphql_api.core.graphql.limits import QueryLimits, query_limits_extension
from graphql_api.core.graphql.masking import MaskInternalErrors, log_unexpected_errors
from graphql_api.core.graphql.metrics import OperationMetrics
from graphql_api.core.graphql.relay import Node, from_global_id
from graphql_api.core.http.view import PlainHttpRunsNoSubscriptions, StorableStringsExtension
from graphql_api.core.settings import Settings
from graphql_api.items.mutations import ItemMutations
from graphql_api.items.queries import ItemQueries, item_by_pk
from graphql_api.items.types import ItemType
from graphql_api.links.mutations import LinkMutations
from graphql_api.links.queries import LinkQueries, short_url_by_pk
from graphql_api.links.subscriptions import LinkSubscriptions
from graphql_api.links.types import ShortUrlType, VisitType
from graphql_api.users.mutations import UserMutations
from graphql_api.users.queries import UserQueries, user_by_pk
from graphql_api.users.types import UserType

# Global ID type name -> how to fetch that object for `node(id)`, with its visibility rules.
NODE_RESOLVERS: dict[str, Callable[[Info, int], Awaitable[Any]]] = {
    "User": user_by_pk,
    "Item": item_by_pk,
    "ShortUrl": short_url_by_pk,
    "ChatRoom": chat_room_by_pk,
}


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object by its global ID; null if there is none.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, pk = from_global_id(id)
        resolve = NODE_RESOLVERS.get(type_name)
        return None if resolve is None else await resolve(info, pk)


@strawberry.type(description="Everything that can be read.")
class Query(NodeQueries, UserQueries, ItemQueries, LinkQueries, ChatQueries):
    pass


@strawberry.type(description="Everything that can be changed. Each takes one `input`.")
class Mutation(UserMutations, ItemMutations, LinkMutations, ChatMutations):
    pass


@strawberry.type(description="Live events, over a WebSocket (graphql-transport-ws or graphql-ws).")
class Subscription(LinkSubscriptions, ChatSubscriptions):
    pass


class Schema(ExecutionContextSchema):
    # Set by build_schema: the query limits, the documents seen lately with the outcome
    # of their checks (`core.graphql.documents.cache`), and their execution plans
    # (`core.graphql.engine.plans`).
    limits: QueryLimits
    documents: DocumentCache
    plans: PlanCache | None = None
    # Picks the operation as the spec does.
    execution_context_type = OperationContext

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected_errors(errors, execution_context)


def schema_types() -> list[type]:
    """Types no field names directly: `node(id)` returns them through the Node interface."""
    return [UserType, ItemType, ShortUrlType, VisitType, ChatRoomType, ChatMessageType]


def build_schema(settings: Settings) -> Schema:
    limits = QueryLimits.from_settings(settings)
    documents = DocumentCache(settings.document_cache_size)
    extensions: list[Callable[[], SchemaExtension]] = [
        OperationMetrics,
        MaskInternalErrors,
        StorableStringsExtension,
        PlainHttpRunsNoSubscriptions,
        partial(MaxTokensLimiter, settings.max_query_tokens),
        query_limits_extension(settings, limits, documents),
    ]
    if trusted_only := trusted_documents_extension(settings):
        extensions.insert(-1, trusted_only)  # before the limits: they skip what it refuses
    if not settings.introspection_enabled:
        extensions.append(DisableIntrospection)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=schema_types(),
        extensions=extensions,
        execution_context_class=QuietExecutor if settings.is_production else GraphQLApiExecutor,
    )
    schema.limits = limits
    schema.documents = documents
    schema.plans = PlanCache(settings.document_cache_size)
    return schema
