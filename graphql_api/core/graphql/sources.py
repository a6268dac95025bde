"""What a field reads, said once: its resolver reads it in Python, and the SQL compiler
(`core.graphql.engine.sql`) reads the same declaration to have the database build it.

A declaration rides in the field's Strawberry `metadata` under `SOURCE`:

- `GlobalId`: the object's global ID (`core.graphql.relay.global_id` makes the field);
- `ToOne`: the object a `ByColumnLoader` loads for a key the parent holds (`to_one`
  makes the field);
- `ChildPages`: a page of the parent's children, as `ChildPageLoader` and
  `CountPerParentLoader` read them (`child_connection`);
- `Pages`: a page of a whole list, as `read_page` reads it from a `PageSource`.

Fields of a model's columns need no declaration: the model mapping says what they are.
A field with none of these (a resolver with logic of its own) is read in Python alone.
"""

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.types.field import StrawberryField

from graphql_api.core.db.keyset import PageArgs, SortKey
from graphql_api.core.graphql.connections import C, PageSource, child_connection
from graphql_api.core.graphql.context import Context, Info
from graphql_api.core.graphql.loaders import (
    ByColumnLoader,
    ChildPageLoader,
    CountPerParentLoader,
    Filter,
)

SOURCE = "graphql_api.source"


@dataclass(frozen=True, slots=True)
class GlobalId:
    """The global ID of a `type_name` object, from its primary key `id`."""

    type_name: str


@dataclass(frozen=True, slots=True)
class ToOne:
    """The object `loader` loads for the parent's attribute `key` (None if there is none)."""

    loader: type[ByColumnLoader[Any, Any]]
    key: str


@dataclass(frozen=True, slots=True)
class ChildList:
    """Which of a parent's children a connection field's arguments ask for."""

    key: SortKey
    page: PageArgs
    where: Filter | None = None


@dataclass(frozen=True, slots=True)
class ChildPages:
    """A page of each parent's children, the parent's `parent_key` naming them.

    `arguments` takes the field's arguments (by their Python names) and says which list
    and page they ask for; a BadUserInput it raises is the client's error.
    """

    pages: type[ChildPageLoader]
    counts: type[CountPerParentLoader]
    arguments: Callable[..., ChildList]
    parent_key: str = "id"

    @property
    def metadata(self) -> dict[str, Any]:
        return {SOURCE: self}

    async def connection(
        self, context: Context, connection_class: type[C], parent: Any, **arguments: Any
    ) -> C:
        """The parent's page, batched with the other parents of the request."""
        read = self.arguments(**arguments)
        key: Hashable = getattr(parent, self.parent_key)
        return await child_connection(
            context, connection_class, self.pages, self.counts, key, read.key, read.page, read.where
        )


@dataclass(frozen=True, slots=True)
class Pages:
    """A page of a list: `source(context, **arguments)` says which (a `PageSource`).

    It may raise the client's errors (BadUserInput, Unauthenticated) as a resolver does.
    """

    source: Callable[..., Awaitable[PageSource]]

    @property
    def metadata(self) -> dict[str, Any]:
        return {SOURCE: self}


Source = GlobalId | ToOne | ChildPages | Pages


def declared(field: StrawberryField) -> Source | None:
    """The field's declaration, if it has one."""
    metadata: Any = field.metadata or {}
    found = metadata.get(SOURCE)
    return found if isinstance(found, (GlobalId, ToOne, ChildPages, Pages)) else None


def to_one(loader: type[ByColumnLoader[Any, Any]], key: str, *, description: str) -> Any:
    """A field of the object `loader` loads for the parent's attribute `key`:

        owner: UserRef = to_one(UserByIdLoader, "owner_id", description="The owner.")

    Its type is the annotation's: null where the schema allows it and nothing is found.
    """

    async def resolve(root: strawberry.Parent[Any], info: Info) -> Any:
        return await info.context.loader(loader).load(getattr(root, key))

    return strawberry.field(
        resolver=resolve, description=description, metadata={SOURCE: ToOne(loader, key)}
    )
