"""Limits on what one GraphQL document may ask for, checked before anything executes.

Cheap checks come first, on the document alone (aliases, directives, depth), so that a
hostile document never reaches the costlier standard validation (whose overlapping-fields
rule is quadratic in the number of fields). A valid document may hold only so many
expensive mutations in an operation (`core.graphql.expensive`), and is then priced
(`core.graphql.cost`)
with the variables as they will run.
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
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    validate,
)
from graphql.language import Visitor, visit
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from graphql_api.core.graphql.cost import coerced_variables, fragment_definitions, priced
from graphql_api.core.graphql.documents.cache import CachedDocument, DocumentCache
from graphql_api.core.graphql.expensive import expensive_mutations
from graphql_api.core.graphql.internals import graphql_core_schema
from graphql_api.core.settings import Settings

CODE = "QUERY_LIMIT_EXCEEDED"
MAX_NUMBER_LENGTH = 100


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int
    max_aliases: int
    max_directives: int
    max_cost: int
    max_expensive_mutations: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "QueryLimits":
        return cls(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_query_aliases,
            max_directives=settings.max_query_directives,
            max_cost=settings.max_query_cost,
            max_expensive_mutations=settings.max_expensive_mutations,
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


def _depth(document: DocumentNode) -> int:
    """The deepest field nesting of any operation, fragments included (cycles cut short)."""
    fragments = fragment_definitions(document)
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


def expensive_errors(
    schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits
) -> list[GraphQLError]:
    """At most so many expensive mutations (`core.graphql.expensive`) in one operation."""
    names = expensive_mutations(schema, document)
    maximum = limits.max_expensive_mutations
    if len(names) <= maximum:
        return []
    kinds = ", ".join(sorted(set(names)))
    return [
        _refusal(
            "expensiveMutations",
            f"The operation holds {len(names)} expensive mutations ({kinds}); at most "
            f"{maximum} may run in one operation: send the others in requests of their own.",
            maximum,
        )
    ]


def _without_tracebacks(error: GraphQLError) -> GraphQLError:
    """An error fit to keep for later requests: the tracebacks of it and of the exceptions
    behind it hold the frames of the request that found it (its context and records)."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        exc = pending.pop()
        if exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            exc.__traceback__ = None
            pending += (exc.__cause__, exc.__context__, getattr(exc, "original_error", None))
    return error


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
                errors = (
                    document_errors(document, self.limits)
                    or self._validate(document)
                    or expensive_errors(graphql_core_schema(context.schema), document, self.limits)
                )
                if cached:
                    cached.errors = [_without_tracebacks(e) for e in errors]
            errors = list(errors)
            schema = graphql_core_schema(context.schema)
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
            graphql_core_schema(context.schema),
            document,
            (*context.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule),
            hide_suggestions=self.hide_suggestions,
        )


def query_limits_extension(
    settings: Settings, limits: QueryLimits, documents: DocumentCache
) -> Callable[[], QueryLimitsExtension]:
    """A factory of the configured extension (Strawberry makes one per operation)."""
    return partial(QueryLimitsExtension, limits, documents, hide_suggestions=settings.is_production)
