"""Who may run a field, and how often.

Permission classes are declared with `permission_classes`, never hand-checked; rate
limits (`core.ratelimit`) are counted with `enforce`.
"""

from typing import Any

from graphql import OperationType
from strawberry.permission import BasePermission

from graphql_api.core.graphql.context import Context, Info
from graphql_api.core.graphql.errors import Forbidden, RateLimited, Unauthenticated
from graphql_api.core.ratelimit import Limit


class IsAuthenticated(BasePermission):
    message = Unauthenticated.default_message
    error_extensions = {"code": Unauthenticated.code}  # noqa: RUF012

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.operation.operation is OperationType.SUBSCRIPTION:
            # A WebSocket keeps its context, and the viewer in it, as long as it is open:
            # each new subscription checks the token's session again.
            info.context.forget()
        return await info.context.viewer() is not None


class IsAdmin(BasePermission):
    message = Forbidden.default_message
    error_extensions = {"code": Forbidden.code}  # noqa: RUF012

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = await info.context.require_viewer()
        return viewer.is_admin


async def enforce(context: Context, limit: Limit, key: str, *, reason: str, cost: int = 1) -> None:
    """Count a GraphQL request; over the limit, RATE_LIMITED and a Retry-After header."""
    retry_after = await context.state.rate_limits.hit(limit, key, cost=cost)
    if retry_after is not None:
        context.set_response_header("Retry-After", str(retry_after))
        raise RateLimited(retry_after, reason)
