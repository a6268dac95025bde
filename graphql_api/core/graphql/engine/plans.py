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

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from operator import attrgetter
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
    OperationType,
    SelectionSetNode,
    Undefined,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    type_from_ast,
)
from graphql.execution import ExecutionResult
from graphql.execution.values import get_argument_values, get_directive_values
from graphql.pyutils import Path
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

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
    fast_type: type | None = None

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
            and getattr(resolve, "_is_default", False)
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
        call = ResolverCall.of(strawberry_field) if how == "strawberry" else None  # type: ignore[arg-type]
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


class PlanRun:
    """One execution of a plan: the executor's request state, and arguments per field."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.is_awaitable: Callable[[Any], bool] = executor.is_awaitable
        self.arguments: dict[int, Any] = {}
        self.converted: dict[int, Any] = {}

    async def selection(
        self, plan: SelectionPlan, objects: list[Any], paths: Paths
    ) -> list[dict[str, Any]]:
        """The answers for `objects`, all of `plan.type`: one dict each, in field order.

        `paths` are the objects' paths, or None where nothing below reads them.
        """
        if not plan.needs_paths:
            paths = None
        results = [dict.fromkeys(plan.keys) for _ in objects]
        resolved: list[list[Any]] = []
        waiting: list[tuple[list[Any], int, Any]] = []
        is_awaitable = self.is_awaitable
        for field_plan in plan.fields:
            values = self.resolve(field_plan, objects, paths)
            resolved.append(values)
            if field_plan.how in CALLS:
                waiting.extend((values, i, v) for i, v in enumerate(values) if is_awaitable(v))
        if waiting:
            await self.settle(waiting)
        nested = []
        for field_plan, values in zip(plan.fields, resolved, strict=True):
            completion = field_plan.completion
            key = field_plan.key
            if isinstance(completion, LeafCompletion):
                for result, value in zip(results, self.leaves(completion, values), strict=True):
                    result[key] = value
            else:
                child_paths = (
                    None if paths is None else [Path(p, key, plan.type.name) for p in paths]
                )
                nested.append(self.fill(results, field_plan, values, child_paths))
        if len(nested) == 1:
            await nested[0]
        elif nested:
            await self.settle_nested(nested)
        return results

    async def settle(self, waiting: list[tuple[list[Any], int, Any]]) -> None:
        """Await the level's awaitables together; every one has ended when this returns."""
        outcomes = await asyncio.gather(*(w[2] for w in waiting), return_exceptions=True)
        for (values, i, _), outcome in zip(waiting, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                raise Fallback from outcome
            values[i] = outcome

    async def settle_nested(self, coroutines: list[Any]) -> None:
        outcomes = await asyncio.gather(*coroutines, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise Fallback from outcome

    async def fill(
        self,
        results: list[dict[str, Any]],
        field_plan: FieldPlan,
        values: list[Any],
        paths: Paths,
    ) -> None:
        completed = await self.complete(field_plan, field_plan.completion, values, paths)
        key = field_plan.key
        for result, value in zip(results, completed, strict=True):
            result[key] = value

    def resolve(self, field_plan: FieldPlan, objects: list[Any], paths: Paths) -> list[Any]:
        how = field_plan.how
        try:
            if how == "attribute":
                name = field_plan.strawberry_field.python_name  # type: ignore[union-attr]
                return list(map(attrgetter(name), objects))
            if how == "typename":
                return [field_plan.parent_type.name] * len(objects)
            if how == "strawberry":
                return self.call_strawberry(field_plan, objects, paths)
            arguments = self.raw_arguments(field_plan)
            resolve = field_plan.definition.resolve
            return [
                resolve(o, self.info(field_plan, p), **arguments)  # type: ignore[misc]
                for o, p in zip(objects, paths, strict=True)  # type: ignore[arg-type]
            ]
        except Fallback:
            raise
        except Exception as exc:
            raise Fallback from exc

    def info(self, field_plan: FieldPlan, parent_path: Path | None) -> Any:
        path = Path(parent_path, field_plan.key, field_plan.parent_type.name)
        return self.executor.build_resolve_info(
            field_plan.definition, field_plan.nodes, field_plan.parent_type, path
        )

    def raw_arguments(self, field_plan: FieldPlan) -> dict[str, Any]:
        if field_plan.static_arguments is not None:
            return field_plan.static_arguments
        arguments = self.arguments.get(id(field_plan))
        if arguments is None:
            arguments = get_argument_values(
                field_plan.definition, field_plan.nodes[0], self.executor.variable_values
            )
            self.arguments[id(field_plan)] = arguments
        return arguments

    def call_strawberry(self, field_plan: FieldPlan, objects: list[Any], paths: Paths) -> list[Any]:
        """Call a Strawberry resolver as Strawberry would, its arguments converted once.

        A resolve info is built only for resolvers that take one.
        """
        if not objects:
            return []
        call: ResolverCall = field_plan.call  # type: ignore[assignment]
        function = call.function
        converted = self.converted_arguments(field_plan) if call.has_arguments else {}
        if call.info is None and not call.passes_self and not converted:
            if not call.sources:
                return [function() for _ in objects]
            if len(call.sources) == 1:
                (source,) = call.sources
                return [function(**{source: obj}) for obj in objects]
        sfield = field_plan.strawberry_field
        info_class = self.executor.schema._strawberry_schema.config.info_class
        results = []
        for i, obj in enumerate(objects):
            kwargs = dict(converted)
            for name in call.sources:
                kwargs[name] = obj
            if call.info is not None:
                raw_info = self.info(field_plan, paths[i])  # type: ignore[index]
                kwargs[call.info] = info_class(_raw_info=raw_info, _field=sfield)
            results.append(function(obj, **kwargs) if call.passes_self else function(**kwargs))
        return results

    def converted_arguments(self, field_plan: FieldPlan) -> dict[str, Any]:
        """The field's arguments as its resolver takes them, converted once per request
        (once per plan if they are written in the document and convert to plain values)."""
        if field_plan.static_converted is not None:
            return field_plan.static_converted
        converted = self.converted.get(id(field_plan))
        if converted is None:
            sfield: Any = field_plan.strawberry_field
            schema = self.executor.schema._strawberry_schema
            info = schema.config.info_class(_raw_info=self.info(field_plan, None), _field=sfield)
            converted = self.converted[id(field_plan)] = convert_arguments(
                self.raw_arguments(field_plan),
                sfield.arguments,
                scalar_registry=schema.schema_converter.scalar_registry,
                config=schema.config,
                info=info,
            )
            if field_plan.static_arguments is not None and all(
                type(v) in IMMUTABLE or isinstance(v, Enum) for v in converted.values()
            ):
                field_plan.static_converted = converted
        return converted

    def leaves(self, completion: LeafCompletion, values: list[Any]) -> list[Any]:
        fast_type = completion.fast_type
        serialize = completion.type.serialize
        out = []
        for value in values:
            if value is None or value is Undefined:
                if not completion.nullable:
                    raise Fallback
                out.append(None)
                continue
            if type(value) is not fast_type:
                try:
                    value = serialize(value)
                except Exception as exc:
                    raise Fallback from exc
                if value is None or value is Undefined:
                    raise Fallback
            out.append(value)
        return out

    async def complete(
        self, field_plan: FieldPlan, completion: Completion, values: list[Any], paths: Paths
    ) -> list[Any]:
        """Completed values for `values`; None stays None where the schema allows it."""
        present = [i for i, v in enumerate(values) if v is not None and v is not Undefined]
        if len(present) != len(values) and not completion.nullable:
            raise Fallback
        if isinstance(completion, LeafCompletion):
            return self.leaves(completion, values)
        out: list[Any] = [None] * len(values)
        if not present:
            return out
        if isinstance(completion, ListCompletion):
            items: list[Any] = []
            item_paths: list[Path] | None = None if paths is None else []
            bounds = []
            for i in present:
                value = values[i]
                if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
                    raise Fallback
                start = len(items)
                items.extend(value)
                if item_paths is not None:
                    item_paths.extend(Path(paths[i], n, None) for n in range(len(items) - start))  # type: ignore[index]
                bounds.append((i, start, len(items)))
            completed = await self.complete(field_plan, completion.item, items, item_paths)
            for i, start, end in bounds:
                out[i] = completed[start:end]
            return out
        # One resolve info for the type checks of the whole level: they read the context.
        info = self.executor.build_resolve_info(
            field_plan.definition,
            field_plan.nodes,
            field_plan.parent_type,
            None if paths is None else paths[present[0]],
        )
        if isinstance(completion, ObjectCompletion):
            groups = {completion.selection.type: (completion.selection, present)}
        else:
            groups = self.by_runtime_type(completion, values, info, present)
        for object_type, (plan, indexes) in groups.items():
            objects = [values[i] for i in indexes]
            is_type_of = object_type.is_type_of
            if is_type_of is not None and not all(is_type_of(o, info) is True for o in objects):
                raise Fallback
            object_paths = None if paths is None else [paths[i] for i in indexes]
            answers = await self.selection(plan, objects, object_paths)
            for i, answer in zip(indexes, answers, strict=True):
                out[i] = answer
        return out

    def by_runtime_type(
        self,
        completion: AbstractCompletion,
        values: list[Any],
        info: Any,
        present: list[int],
    ) -> dict[GraphQLObjectType, tuple[SelectionPlan, list[int]]]:
        resolve_type = completion.type.resolve_type
        if resolve_type is None:
            raise Fallback
        groups: dict[GraphQLObjectType, tuple[SelectionPlan, list[int]]] = {}
        schema = self.executor.schema
        for i in present:
            name = resolve_type(values[i], info, completion.type)
            runtime = schema.get_type(name) if isinstance(name, str) else None
            if not is_object_type(runtime) or not schema.is_sub_type(completion.type, runtime):
                raise Fallback
            if runtime not in groups:
                groups[runtime] = (completion.plan_for(runtime), [])
            groups[runtime][1].append(i)
        return groups


class PlanCache:
    """Plans by operation and the values of the variables its @skip/@include read.

    Operations are known by identity: the document cache hands out the same document
    for the same query text, and each plan keeps its operation alive.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.answered = 0  # operations the plans answered
        self.fallbacks = 0  # and those graphql-core answered after all: errors, mostly
        self._plans: OrderedDict[tuple[Any, ...], OperationPlan | None] = OrderedDict()

    def plan(self, executor: Any) -> OperationPlan | None:
        operation = executor.operation
        key = (id(operation), self._directive_variables(executor))
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        try:
            plan: OperationPlan | None = Compiler(executor).operation(operation)
        except Unsupported:
            plan = None
        self._plans[key] = plan
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        return plan

    def run(self, executor: Any) -> Any:
        """An awaitable ExecutionResult of `executor`'s operation, or None (`run_compiled`)."""
        return run_compiled(executor, self)

    @staticmethod
    def _directive_variables(executor: Any) -> tuple[Any, ...]:
        # Conservative and cheap: every boolean variable could steer a @skip/@include, and
        # a null one makes the operation graphql-core's (`Compiler._included`).
        coerced = executor.variable_values.coerced
        return tuple(sorted((k, v) for k, v in coerced.items() if v is None or isinstance(v, bool)))


def run_compiled(executor: Any, plans: PlanCache) -> Any:
    """An awaitable ExecutionResult from a plan, or None where only graphql-core can answer."""
    operation = executor.operation
    if operation.operation is not OperationType.QUERY or plans.size <= 0:
        return None
    manager = executor.middleware_manager
    if manager is not None and manager.middlewares:
        return None
    plan = plans.plan(executor)
    if plan is None:
        return None

    async def run() -> ExecutionResult | None:
        try:
            answers = await PlanRun(executor).selection(plan.root, [executor.root_value], [None])
        except Fallback:
            plans.fallbacks += 1
            return None
        plans.answered += 1
        return ExecutionResult(answers[0], None)

    return run()
