"""Plans run: level by level over every object of a level, and the cache of plans.

`PlanCache.run` is how the executor (`core.graphql.execution`) and the fast path
(`core.http.fast_path`) reach the engine; see `plans` for what a plan is and when a
run falls back to graphql-core.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
from enum import Enum
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLObjectType,
    OperationType,
    Undefined,
    is_object_type,
)
from graphql.execution import ExecutionResult
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.types.arguments import convert_arguments

from graphql_api.core.db.records import Value
from graphql_api.core.graphql.engine.plans import (
    CALLS,
    IMMUTABLE,
    AbstractCompletion,
    Compiler,
    Completion,
    Fallback,
    FieldPlan,
    LeafCompletion,
    ListCompletion,
    ObjectCompletion,
    OperationPlan,
    Paths,
    ResolverCall,
    SelectionPlan,
    Unsupported,
)
from graphql_api.core.graphql.engine.sql import SqlField, Statements
from graphql_api.core.graphql.internals import new_info, strawberry_schema


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
                child_paths: Paths = (
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
                # An "attribute" plan always has its Strawberry field.
                name = field_plan.strawberry_field.python_name  # type: ignore[union-attr]
                return list(map(attrgetter(name), objects))
            if how == "typename":
                return [field_plan.parent_type.name] * len(objects)
            if how == "strawberry":
                return self.call_strawberry(field_plan, objects, paths)
            arguments = self.raw_arguments(field_plan)
            resolve = field_plan.definition.resolve
            # A "resolve" plan's field has a resolver, and paths (they are made wherever a
            # resolver may read them).
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
        # A "strawberry" plan always has its call.
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
        assert sfield is not None, "a resolver's plan has its field"
        info_class = strawberry_schema(self.executor.schema).config.info_class
        results = []
        for i, obj in enumerate(objects):
            kwargs = dict(converted)
            for name in call.sources:
                kwargs[name] = obj
            if call.info is not None:
                # Paths are made wherever a resolver may read them, as this one does.
                raw_info = self.info(field_plan, paths[i])  # type: ignore[index]
                kwargs[call.info] = new_info(info_class, raw_info, sfield)
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
            schema = strawberry_schema(self.executor.schema)
            converted = self.converted[id(field_plan)] = convert_arguments(
                self.raw_arguments(field_plan),
                sfield.arguments,
                scalar_registry=schema.schema_converter.scalar_registry,
                config=schema.config,
                info=self.strawberry_info(field_plan),
            )
            if field_plan.static_arguments is not None and all(
                type(v) in IMMUTABLE or isinstance(v, Enum) for v in converted.values()
            ):
                field_plan.static_converted = converted
        return converted

    def strawberry_info(self, field_plan: FieldPlan) -> Any:
        """A Strawberry Info for the field, as its resolver (or permission) would get."""
        info_class = strawberry_schema(self.executor.schema).config.info_class
        sfield: Any = field_plan.strawberry_field
        return new_info(info_class, self.info(field_plan, None), sfield)

    def leaves(self, completion: LeafCompletion, values: list[Any]) -> list[Any]:
        fast_type = completion.fast_type
        serialize = completion.type.serialize
        out: list[Any] = []
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
            item_paths: list[Path | None] | None = None if paths is None else []
            bounds = []
            for i in present:
                value = values[i]
                if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
                    raise Fallback
                start = len(items)
                items.extend(value)
                if item_paths is not None:  # and so paths is not None either
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
        self.sql_answered = 0  # root fields PostgreSQL answered (`engine.sql`)
        self.statements = Statements()  # theirs, for every plan
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
        if plan is not None:
            sql_fields = (SqlField(f, self.statements) for f in plan.root.fields)
            plan.sql_fields = [f for f in sql_fields if f.tree is not None]
        self._plans[key] = plan
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        return plan

    def run(self, executor: Any, *, sql: bool = False) -> Any:
        """An awaitable ExecutionResult of `executor`'s operation, or None (`run_compiled`).

        With `sql`, root fields PostgreSQL can answer (`engine.sql`) come as
        `orjson.Fragment`s of their JSON: for a caller that encodes with orjson.
        """
        return run_compiled(executor, self, sql=sql)

    @staticmethod
    def _directive_variables(executor: Any) -> tuple[Any, ...]:
        # Conservative and cheap: every boolean variable could steer a @skip/@include, and
        # a null one makes the operation graphql-core's (`Compiler._included`).
        coerced = executor.variable_values.coerced
        return tuple(sorted((k, v) for k, v in coerced.items() if v is None or isinstance(v, bool)))


def run_compiled(executor: Any, plans: PlanCache, *, sql: bool = False) -> Any:
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
            if sql and plan.sql_fields and _on_postgresql(executor):
                answer = await _with_sql(PlanRun(executor), plan, plans)
            else:
                answer = (
                    await PlanRun(executor).selection(plan.root, [executor.root_value], [None])
                )[0]
        except Fallback:
            plans.fallbacks += 1
            return None
        plans.answered += 1
        return ExecutionResult(answer, None)

    return run()


def _on_postgresql(executor: Any) -> bool:
    """Whether the request reads from PostgreSQL, with a driver `engine.sql` can use."""
    engine = executor.context_value.reads.engine
    return engine.dialect.name == "postgresql" and Value.can_read(engine)


async def _with_sql(run: PlanRun, plan: OperationPlan, plans: PlanCache) -> dict[str, Any]:
    """The root's answer, the fields PostgreSQL answers first and the plan the rest."""
    answered: dict[str, Any] = {}
    for sql_field in plan.sql_fields:
        try:
            fragment = await sql_field.answer(run)
        except Exception as exc:
            # No connection in time, say: graphql-core reports it as it always has.
            raise Fallback from exc
        if fragment is not None:
            answered[sql_field.plan.key] = fragment
            plans.sql_answered += 1
    root = plan.root
    rest = [f for f in root.fields if f.key not in answered]
    if rest:
        others = SelectionPlan(root.type, rest, tuple(f.key for f in rest))
        (found,) = await run.selection(others, [run.executor.root_value], [None])
        answered.update(found)
    return {key: answered[key] for key in root.keys}
