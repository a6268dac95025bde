"""Relay global object identification: opaque IDs and the Node interface."""

import base64
import binascii
from functools import lru_cache

import strawberry

from graphql_api.core.errors import ErrorCode, InvalidInput
from graphql_api.core.graphql.errors import BadUserInput

MAX_PK = 2**63 - 1  # BIGINT: a larger number cannot name a row


@lru_cache(maxsize=8192)  # pages repeat: the same IDs are encoded again and again
def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    raw = f"{type_name}:{pk}".encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


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
