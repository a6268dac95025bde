"""Limits on what one GraphQL document may ask for, checked before anything executes.

Cheap checks come first, on the document alone (aliases, directives, depth), so that a
hostile document never reaches the costlier standard validation (whose overlapping-fields
rule is quadratic in the number of fields). A valid document is then priced: every field
costs the number of times it would resolve, where a list multiplies its selection by the
page size asked for (`first`/`last`, with the variables as they coerce, else the default
page size). Introspection fields (`__schema`, `__type`) are not counted: introspection
has a switch of its own.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.language import Visitor, visit
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from graphql_api.core.documents import CachedDocument, DocumentCache
from graphql_api.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from graphql_api.core.settings import Settings

CODE = "QUERY_LIMIT_EXCEEDED"
MAX_NUMBER_LENGTH = 100


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int
    max_aliases: int
    max_directives: int
    max_cost: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "QueryLimits":
        return cls(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_query_aliases,
            max_directives=settings.max_query_directives,
            max_cost=settings.max_query_cost,
        )


def _refusal(limit: str, message: str, maximum: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": CODE, "limit": limit, "maximum": maximum})


class _Counter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.aliases = 0
        self.directives = 0
        self.longest_number = 0

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.alias is not None:
            self.aliases += 1

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        self.directives += 1

    def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
        self.longest_number = max(self.longest_number, len(node.value))

    def enter_float_value(self, node: FloatValueNode, *_: Any) -> None:
        self.longest_number = max(self.longest_number, len(node.value))


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _depth(document: DocumentNode) -> int:
    """The deepest field nesting of any operation, fragments included (cycles cut short)."""
    fragments = _fragments(document)
    known: dict[str, int] = {}
    entered: set[str] = set()

    def depth(selection_set: SelectionSetNode | None) -> int:
        deepest = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    deepest = max(deepest, 1 + depth(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, fragment_depth(selection.name.value))
        return deepest

    def fragment_depth(name: str) -> int:
        if name not in known:
            if name in entered or name not in fragments:
                return 0  # a cycle or an unknown fragment: validation reports it
            entered.add(name)
            known[name] = depth(fragments[name].selection_set)
        return known[name]

    operations = (d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return max((depth(op.selection_set) for op in operations), default=0)


def document_errors(document: DocumentNode, limits: QueryLimits) -> list[GraphQLError]:
    """Limits that need only the document: aliases, directives, depth."""
    counter = _Counter()
    visit(document, counter)
    if counter.aliases > limits.max_aliases:
        return [
            _refusal(
                "aliases",
                f"The document has {counter.aliases} aliases; at most "
                f"{limits.max_aliases} are allowed.",
                limits.max_aliases,
            )
        ]
    if counter.directives > limits.max_directives:
        return [
            _refusal(
                "directives",
                f"The document has {counter.directives} directives; at most "
                f"{limits.max_directives} are allowed.",
                limits.max_directives,
            )
        ]
    if counter.longest_number > MAX_NUMBER_LENGTH:
        # Python refuses to convert integers of over 4,300 digits; no client needs 100.
        return [
            _refusal(
                "numberLength",
                f"Number literals have at most {MAX_NUMBER_LENGTH} characters.",
                MAX_NUMBER_LENGTH,
            )
        ]
    depth = _depth(document)
    if depth > limits.max_depth:
        return [
            _refusal(
                "depth",
                f"The query is {depth} levels deep; at most {limits.max_depth} are allowed.",
                limits.max_depth,
            )
        ]
    return []


class _TooCostly(Exception):
    pass


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
    fragments = _fragments(document)
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
            # Every field counts, an empty page's and __typename too, so that the walk
            # always ends at the ceiling, however often fragments repeat.
            total += max(times, 1)
            if total > ceiling:
                raise _TooCostly
            if field.selection_set is None or field.name.value.startswith("__"):
                continue  # introspection is left to its switch (and graphql-core's depth cap)
            name = field.name.value
            definition = parent_type.fields[name]
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


class QueryLimitsExtension(SchemaExtension):
    """Runs the checks above around the standard validation, in the cheap-first order.

    A query text seen before skips parsing and the document-only checks: their outcome
    is in `documents`. The cost depends on the variables, so it is priced every time.
    """

    def __init__(
        self, limits: QueryLimits, documents: DocumentCache, *, hide_suggestions: bool
    ) -> None:
        super().__init__()
        self.limits = limits
        self.documents = documents
        self.hide_suggestions = hide_suggestions
        self.cached: CachedDocument | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query and context.graphql_document is None:
            self.cached = self.documents.get(query)
            if self.cached is not None:
                context.graphql_document = self.cached.document
        yield
        if self.cached is None and query and context.graphql_document is not None:
            self.cached = self.documents.add(query, context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            cached = self.cached if self.cached and self.cached.document is document else None
            errors = cached.errors if cached else None
            if errors is None:
                errors = document_errors(document, self.limits) or self._validate(document)
                if cached:
                    cached.errors = errors
            errors = list(errors)
            schema = context.schema._schema
            # Variables that do not coerce run nothing: execution says what is wrong.
            variables = None if errors else coerced_variables(schema, document, context)
            if variables is not None:
                cost = priced(
                    schema,
                    document,
                    self.cached,
                    context.operation_name,
                    variables,
                    self.limits.max_cost,
                )
                if cost > self.limits.max_cost:
                    errors = [
                        _refusal(
                            "cost",
                            f"The query may resolve more than {self.limits.max_cost} fields "
                            "(lists count once per item they may hold: ask for smaller "
                            "pages with first/last, or fewer fields).",
                            self.limits.max_cost,
                        )
                    ]
            # Set even when empty: Strawberry then skips its own run of validation.
            context.pre_execution_errors = errors
        yield

    def _validate(self, document: DocumentNode) -> list[GraphQLError]:
        """Strawberry's validation, with "did you mean" suggestions hidden if configured."""
        context = self.execution_context
        return validate(
            context.schema._schema,
            document,
            (*context.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule),
            hide_suggestions=self.hide_suggestions,
        )


def query_limits_extension(
    settings: Settings, limits: QueryLimits, documents: DocumentCache
) -> Callable[[], QueryLimitsExtension]:
    """A factory of the configured extension (Strawberry makes one per operation)."""
    return partial(QueryLimitsExtension, limits, documents, hide_suggestions=settings.is_production)
