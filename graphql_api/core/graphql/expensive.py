"""Expensive mutations: those one operation may hold only a few of (`core.graphql.limits`).

A mutation that hashes a password or imports a file costs the server far more than
its few fields say, and aliases would let one request repeat it: 30 aliased sign-ups
were 30 argon2 hashes. A feature marks such a mutation with `metadata=EXPENSIVE`; the
limits count the marked fields at the root of each mutation operation.
"""

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

_MARK = "expensive"
EXPENSIVE: Mapping[str, bool] = MappingProxyType({_MARK: True})


def _root_fields(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """The operation's top-level fields, fragments flattened (validation has cut cycles)."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _root_fields(fragment.selection_set, fragments)


def _is_expensive(schema: GraphQLSchema, name: str) -> bool:
    mutation = schema.mutation_type
    field = mutation.fields.get(name) if mutation else None
    if field is None:  # not after validation, which runs first
        return False
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    metadata = getattr(definition, "metadata", None) or {}
    return bool(metadata.get(_MARK))


def expensive_mutations(schema: GraphQLSchema, document: DocumentNode) -> list[str]:
    """The expensive fields of the document's mutation operation that holds the most.

    A field under `@skip` or `@include` counts: the limit holds whatever the variables.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    most: list[str] = []
    for operation in document.definitions:
        if (
            isinstance(operation, OperationDefinitionNode)
            and operation.operation is OperationType.MUTATION
        ):
            names = [
                field.name.value
                for field in _root_fields(operation.selection_set, fragments)
                if _is_expensive(schema, field.name.value)
            ]
            most = max(most, names, key=len)
    return most
