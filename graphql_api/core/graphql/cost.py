"""The price of an operation: how many field resolutions it may take, before it runs.

Every field costs the number of times it would resolve, where a list multiplies its
selection by the page size asked for (`first`/`last`, with the variables as they coerce,
else the default page size), and a field declared with `costs(n)` counts n times for
each resolution (a QR code costs about what a page of rows does). Introspection fields
(`__schema`, `__type`) are not counted: introspection has a switch of its own.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import ExecutionContext

from graphql_api.core.db.keyset import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from graphql_api.core.graphql.documents.cache import CachedDocument

DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF


def fragment_definitions(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


class _TooCostly(Exception):
    pass


# The metadata key of a field whose one resolution costs like several (`costs`).
_COST = "graphql_api.cost"


def costs(resolutions: int) -> dict[str, int]:
    """A Strawberry field's `metadata`: each resolution counts as `resolutions` fields."""
    return {_COST: resolutions}


def _weight(definition: GraphQLField | None) -> int:
    strawberry_field = definition.extensions.get(DEFINITION) if definition else None
    metadata: Mapping[str, int] = getattr(strawberry_field, "metadata", None) or {}
    return metadata.get(_COST, 1)


def _page_size(field: FieldNode, variables: dict[str, Any]) -> int | None:
    """The `first` or `last` a field asks for (clamped to what a page can hold), if any.

    A null, a variable left out or one with no value is the resolvers' default size.
    """
    for argument in field.arguments or ():
        if argument.name.value not in ("first", "last"):
            continue
        value = argument.value
        size: Any = None
        if isinstance(value, IntValueNode):
            size = int(value.value)
        elif isinstance(value, VariableNode):
            size = variables.get(value.name.value)
        if isinstance(size, int) and not isinstance(size, bool):
            return max(0, min(size, MAX_PAGE_SIZE))
        return DEFAULT_PAGE_SIZE
    return None


def coerced_variables(
    schema: GraphQLSchema, document: DocumentNode, context: ExecutionContext
) -> dict[str, Any] | None:
    """The variables as execution will see them (coerced, defaults applied); None if they
    do not coerce, which execution reports before anything runs."""
    operation = get_operation_ast(document, context.operation_name)
    raw = context.variables or {}
    if operation is None or not isinstance(raw, dict):
        return None
    values = get_variable_values(schema, operation.variable_definitions or (), raw)
    return None if isinstance(values, list) else values.coerced


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any],
    ceiling: int,
) -> int:
    """How many field resolutions the operation may take; stops counting past `ceiling`.

    `variables` are the coerced values (`coerced_variables`), the page sizes it will run
    with. Stopping early bounds the work, also for fragments that expand exponentially.
    """
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    fragments = fragment_definitions(document)
    total = 0

    def selections(selection_set: SelectionSetNode, parent: Any) -> Iterator[tuple[Any, Any]]:
        """(field node, its parent type) for each field, fragments flattened."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = schema.get_type(condition.name.value) if condition else parent
                yield from selections(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                inner = schema.get_type(fragment.type_condition.name.value)
                yield from selections(fragment.selection_set, inner)

    def walk(selection_set: SelectionSetNode, parent: Any, times: int, page: int | None) -> None:
        nonlocal total
        for field, parent_type in selections(selection_set, parent):
            name = field.name.value
            definition = None if name.startswith("__") else parent_type.fields[name]
            # Every field counts, an empty page's and __typename too, so that the walk
            # always ends at the ceiling, however often fragments repeat.
            total += max(times, 1) * _weight(definition)
            if total > ceiling:
                raise _TooCostly
            if field.selection_set is None or definition is None:
                continue  # introspection is left to its switch (and graphql-core's depth cap)
            inner_times = times
            if is_list_type(get_nullable_type(definition.type)):
                inner_times *= DEFAULT_PAGE_SIZE if page is None else page
            walk(
                field.selection_set,
                get_named_type(definition.type),
                inner_times,
                _page_size(field, variables),
            )

    if root is not None:
        try:
            walk(operation.selection_set, root, 1, None)
        except _TooCostly:
            return total
    return total


MAX_COSTS_PER_DOCUMENT = 64


def priced(
    schema: GraphQLSchema,
    document: DocumentNode,
    cached: CachedDocument | None,
    operation_name: str | None,
    variables: dict[str, Any],
    ceiling: int,
) -> int:
    """`query_cost`, kept with a cached document for the page sizes its variables ask for.

    `variables` are coerced: a page size is then an Int or null (or left out), so those
    values, and only they, key the price.
    """
    if cached is None or cached.document is not document:
        return query_cost(schema, document, operation_name, variables, ceiling)
    key = (
        operation_name,
        *sorted((k, v) for k, v in variables.items() if v is None or type(v) is int),
    )
    cost = cached.costs.get(key)
    if cost is None:
        cost = query_cost(schema, cached.document, operation_name, variables, ceiling)
        if len(cached.costs) >= MAX_COSTS_PER_DOCUMENT:
            cached.costs.clear()
        cached.costs[key] = cost
    return cost
