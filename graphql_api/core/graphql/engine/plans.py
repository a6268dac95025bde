"""Queries run from plans: each document is compiled once, then executed level by level.

graphql-core executes a query field by field and object by object: for every field of
every object it collects sub-fields, builds a resolve info, looks up the resolver and
dispatches on the return type. For a page of 20 users with 5 items each that is ~500
times the same decisions. Here they are taken once per document: a plan says, for
each field, how to resolve it (an attribute read, a Strawberry resolver with its
arguments converted once per request, or the field's own resolver) and how to complete
its value. Execution then goes breadth first: each field of a selection runs over all
objects of its level in one loop (the items of all 20 users at once), and every
awaitable of a level is awaited together, so DataLoaders batch as before.

Plans only produce complete answers. A resolver that raises, a null where the schema
promises a value, a value of the wrong type, or anything else that would make
graphql-core report an error ends the plan's run (`Fallback`), and the operation is
executed again by graphql-core, which reports it exactly as it always has. That is
safe for queries alone, which change nothing; mutations, subscriptions, introspection
and operations with field middleware always run on graphql-core.
"""

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    type_from_ast,
)
from graphql.execution.values import get_argument_values, get_directive_values
from graphql.pyutils import Path
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from graphql_api.core.graphql.internals import is_default_resolver

DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF


class Fallback(Exception):
    """The plan cannot answer this operation as graphql-core would: let graphql-core."""


class Unsupported(Exception):
    """The document uses something plans do not do (introspection, say)."""


# How a field's value is completed: one of these per return type, nested like it.


# Values of these Python types serialize to themselves for these scalars.
UNCHANGED = {GraphQLString.name: str, GraphQLID.name: str, GraphQLBoolean.name: bool}


@dataclass(slots=True)
class LeafCompletion:
    nullable: bool
    type: GraphQLLeafType
    fast_type: builtins.type | None = None  # `type` is the field above

    def __post_init__(self) -> None:
        self.fast_type = UNCHANGED.get(self.type.name)


@dataclass(slots=True)
class ObjectCompletion:
    nullable: bool
    selection: "SelectionPlan"


@dataclass(slots=True)
class AbstractCompletion:
    nullable: bool
    type: GraphQLAbstractType
    compiler: "Compiler"
    selection_sets: list[SelectionSetNode]
    by_type: dict[str, "SelectionPlan"] = field(default_factory=dict)

    def plan_for(self, object_type: GraphQLObjectType) -> "SelectionPlan":
        """The selection for one runtime type, planned when the type first turns up."""
        plan = self.by_type.get(object_type.name)
        if plan is None:
            try:
                plan = self.compiler.selection(object_type, self.selection_sets)
            except Unsupported as exc:
                raise Fallback from exc
            self.by_type[object_type.name] = plan
        return plan


@dataclass(slots=True)
class ListCompletion:
    nullable: bool
    item: "Completion"


Completion = LeafCompletion | ObjectCompletion | AbstractCompletion | ListCompletion
# The paths of a level's objects; None where no resolver below reads them.
Paths = list[Path | None] | None
# Argument values a resolver cannot change, which plans may share between requests.
IMMUTABLE = frozenset({str, int, float, bool, type(None), Decimal})
# Ways of resolving (FieldPlan.how) whose values may be awaitables.
CALLS = frozenset({"strawberry", "resolve"})


@dataclass(slots=True)
class ResolverCall:
    """How to call a Strawberry resolver function: worked out once, from its signature."""

    function: Callable[..., Any]
    passes_self: bool
    sources: tuple[str, ...]  # the parameters that get the parent object
    info: str | None  # the parameter that gets the Info, if any
    has_arguments: bool

    @classmethod
    def of(cls, strawberry_field: StrawberryField) -> "ResolverCall":
        resolver: Any = strawberry_field.base_resolver
        parents = (resolver.parent_parameter, resolver.root_parameter)
        return cls(
            function=resolver.wrapped_func,
            passes_self=resolver.self_parameter is not None,
            sources=tuple(p.name for p in parents if p),
            info=resolver.info_parameter.name if resolver.info_parameter else None,
            has_arguments=bool(strawberry_field.arguments),
        )


@dataclass(slots=True)
class FieldPlan:
    key: str
    nodes: list[FieldNode]
    definition: GraphQLField
    parent_type: GraphQLObjectType
    completion: Completion
    # How to resolve: "typename", "attribute", "strawberry" (call the resolver directly)
    # or "resolve" (the field's graphql-core resolver, with a resolve info per object).
    how: str
    strawberry_field: StrawberryField | None = None
    static_arguments: dict[str, Any] | None = None
    call: ResolverCall | None = None
    # The static arguments converted, where conversion gives values nothing can change.
    static_converted: dict[str, Any] | None = None

    @property
    def needs_paths(self) -> bool:
        """Whether resolving or completing it builds resolve infos, which carry a path."""
        if self.how == "resolve" or (self.call is not None and self.call.info is not None):
            return True
        completion = self.completion
        while isinstance(completion, ListCompletion):
            completion = completion.item
        if isinstance(completion, AbstractCompletion):
            return True  # its runtime types' selections are planned later
        return isinstance(completion, ObjectCompletion) and completion.selection.needs_paths


@dataclass(slots=True)
class SelectionPlan:
    type: GraphQLObjectType
    fields: list[FieldPlan]
    keys: tuple[str, ...]
    # Paths are made only where some resolver below may read them (they cost per object).
    needs_paths: bool = True

    def __post_init__(self) -> None:
        self.needs_paths = any(f.needs_paths for f in self.fields)


@dataclass(slots=True)
class OperationPlan:
    root: SelectionPlan
    # Each plan keeps its operation alive, so that the id in its cache key stays unique.
    operation: Any
    # The root fields PostgreSQL may answer (`engine.sql.SqlField`), found with the plan.
    sql_fields: list[Any] = field(default_factory=list)


def _uses_variables(node: FieldNode) -> bool:
    def walk(value: Any) -> bool:
        if isinstance(value, VariableNode):
            return True
        fields = getattr(value, "fields", None) or getattr(value, "values", None) or ()
        return any(walk(getattr(f, "value", f)) for f in fields)

    return any(walk(argument.value) for argument in node.arguments or ())


class Compiler:
    """Turns an operation into plans, for the variable values its @skip/@include read."""

    def __init__(self, executor: Any) -> None:
        self.schema = executor.schema
        self.fragments = executor.fragment_definitions
        self.variables = executor.variable_values

    def operation(self, operation: Any) -> OperationPlan:
        root_type = self.schema.get_root_type(operation.operation)
        if root_type is None:
            raise Unsupported(operation.operation)
        return OperationPlan(self.selection(root_type, [operation.selection_set]), operation)

    def selection(
        self, object_type: GraphQLObjectType, selection_sets: list[SelectionSetNode]
    ) -> SelectionPlan:
        grouped: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            self._collect(object_type, selection_set, grouped, set())
        fields = [self._field(object_type, key, nodes) for key, nodes in grouped.items()]
        return SelectionPlan(object_type, fields, tuple(grouped))

    def _included(self, node: Any) -> bool:
        try:
            skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
            if skip and skip["if"] is True:
                return False
            include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        except GraphQLError as exc:
            # A null for `if`: the client's mistake, which graphql-core reports its way.
            raise Unsupported("a directive graphql-core refuses") from exc
        return not (include and include["if"] is False)

    def _applies(self, condition: Any, object_type: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        condition_type = type_from_ast(self.schema, condition)
        if condition_type is object_type:
            return True
        return is_abstract_type(condition_type) and self.schema.is_sub_type(
            condition_type, object_type
        )

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, object_type):
                    self._collect(object_type, selection.selection_set, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if self._applies(fragment.type_condition, object_type):
                    self._collect(object_type, fragment.selection_set, grouped, visited)

    def _field(self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> FieldPlan:
        name = nodes[0].name.value
        if name == "__typename":
            definition = GraphQLField(GraphQLNonNull(GraphQLString))
            completion = self.completion(definition.type, [])
            return FieldPlan(key, nodes, definition, parent, completion, "typename")
        if name.startswith("__"):
            raise Unsupported(name)  # introspection: graphql-core's business
        definition = parent.fields[name]
        sub_selections = [n.selection_set for n in nodes if n.selection_set]
        completion = self.completion(definition.type, sub_selections)
        strawberry_field = definition.extensions.get(DEFINITION)
        resolve = definition.resolve
        static = None if _uses_variables(nodes[0]) else self._arguments(definition, nodes[0])
        is_strawberry = isinstance(strawberry_field, StrawberryField)
        if (
            is_strawberry
            and is_default_resolver(resolve)
            and strawberry_field.default_resolver is getattr
        ):
            how = "attribute"
        elif (
            is_strawberry
            and strawberry_field.base_resolver is not None
            and not strawberry_field.extensions
        ):
            how = "strawberry"
        elif resolve is not None:
            how = "resolve"
        else:
            raise Unsupported(name)  # graphql-core's default resolver: not in this schema
        call = ResolverCall.of(strawberry_field) if how == "strawberry" else None
        return FieldPlan(
            key, nodes, definition, parent, completion, how, strawberry_field, static, call
        )

    def _arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any] | None:
        try:
            return get_argument_values(definition, node, self.variables)
        except Exception:
            return None  # an argument graphql-core would refuse at execution

    def completion(
        self, type_: GraphQLOutputType, selection_sets: list[SelectionSetNode]
    ) -> Completion:
        nullable = not is_non_null_type(type_)
        named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if is_list_type(named):
            return ListCompletion(nullable, self.completion(named.of_type, selection_sets))
        if is_leaf_type(named):
            return LeafCompletion(nullable, named)
        if is_object_type(named):
            return ObjectCompletion(nullable, self.selection(named, selection_sets))
        if is_abstract_type(named):
            return AbstractCompletion(nullable, named, self, selection_sets)
        raise Unsupported(str(type_))
