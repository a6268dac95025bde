"""Permission classes for fields: declared with `permission_classes`, never hand-checked."""

from typing import Any

from graphql import OperationType
from strawberry.permission import BasePermission

from graphql_api.core.context import Info
from graphql_api.core.errors import Forbidden, Unauthenticated


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
