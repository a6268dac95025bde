"""Relay global object identification: opaque IDs and the Node interface."""

import base64
import binascii
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import strawberry

from graphql_api.core.db.records import instance_of
from graphql_api.core.errors import ErrorCode, InvalidInput
from graphql_api.core.graphql.errors import BadUserInput
from graphql_api.core.graphql.sources import SOURCE, GlobalId

T = TypeVar("T", bound=type)
MAX_PK = 2**63 - 1  # BIGINT: a larger number cannot name a row


@lru_cache(maxsize=8192)  # pages repeat: the same IDs are encoded again and again
def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    raw = f"{type_name}:{pk}".encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


def global_id(type_name: str, *, description: str) -> Any:
    """The `id` field of a Node type whose objects keep their primary key as `id`:

        id: strawberry.ID = global_id("User", description="The user's global ID.")

    gives each object's `id` as the global ID of a `User`.
    """

    def resolve(root: strawberry.Parent[Any]) -> strawberry.ID:
        return to_global_id(type_name, root.id)

    return strawberry.field(
        resolver=resolve, description=description, metadata={SOURCE: GlobalId(type_name)}
    )


def from_global_id(global_id: str) -> tuple[str, int]:
    """Split an ID into its type name and primary key; a malformed ID is the client's error."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded).decode().partition(":")
        if not type_name or not pk.isascii() or not pk.isdigit() or not 0 < int(pk) <= MAX_PK:
            raise ValueError(global_id)
        return type_name, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadUserInput(f"Invalid ID: {global_id[:64]!r}.") from None


def pk_of(global_id: str, type_name: str) -> int | None:
    """The primary key if the ID names an object of this type, else None (not one of ours)."""
    found_type, pk = from_global_id(global_id)
    return pk if found_type == type_name else None


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(description="The object's global ID.")


def input_pk(global_id: str, type_name: str, *, field: str = "id") -> int:
    """The primary key named by an ID in mutation input; anything else is a userError."""
    try:
        pk = pk_of(global_id, type_name)
    except BadUserInput:
        pk = None
    if pk is None:
        raise InvalidInput.single(field, ErrorCode.NOT_FOUND, f"No {type_name} has this ID.")
    return pk


def of_model(model: type) -> Callable[[T], T]:
    """Give an object type the `is_type_of` of its model: its objects are ORM instances of
    `model` or records of it (`read_model(model)`), and both pass. Put it under
    `@strawberry.type`, which reads `is_type_of` when it makes the type:

        @strawberry.type(name="Item", description="...")
        @of_model(Item)
        class ItemType(Node): ...

    Without it graphql-core cannot tell which type of an interface or union a record is,
    and refuses it ("Expected value of type ... but got: (1, 1, ...)").
    """

    def is_type_of(cls: type, obj: Any, info: Any) -> bool:
        return instance_of(obj, model)

    def mark(cls: T) -> T:
        cls.is_type_of = classmethod(is_type_of)  # type: ignore[attr-defined]
        cls._of_model = model  # type: ignore[attr-defined]  # read by model_of
        return cls

    return mark


def model_of(cls: type) -> type | None:
    """The model `of_model` gave an object type, if any."""
    return getattr(cls, "_of_model", None)
