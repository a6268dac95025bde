"""schema.graphql is the API's reference: current, and every type and field described."""

from pathlib import Path

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    build_schema,
)

from graphql_api.core.settings import Settings
from graphql_api.schema import build_schema as build_app_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_is_current() -> None:
    exported = build_app_schema(Settings(introspection=True)).as_str() + "\n"
    assert SCHEMA_FILE.read_text() == exported, (
        "schema.graphql is stale: run `graphql-api export-schema --output schema.graphql`"
    )


def test_every_type_and_field_is_described() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    missing = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__"):
            continue
        if not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, field in type_.fields.items() if not field.description]
    assert missing == []


def test_contract_operations_exist() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    assert schema.query_type and schema.mutation_type
    for field in ("node", "me", "user", "users", "item", "items"):
        assert field in schema.query_type.fields
    for field in (
        "register",
        "login",
        "refreshToken",
        "logout",
        "updateMe",
        "changePassword",
        "deleteUser",
        "createItem",
        "updateItem",
        "deleteItem",
    ):
        assert field in schema.mutation_type.fields
        assert list(schema.mutation_type.fields[field].args) == ["input"]
