"""Plain objects completed in straight-line code: graphql-core's answer without its per-field machinery
(decision 22).

Below the root resolvers, almost every field the API has is a strawberry field without a resolver: its
value is the attribute of the same name, completed as a scalar, an enum, an object or a list of them.
graphql-core gives each such field the whole treatment (a ``Path``, a ``GraphQLResolveInfo``, the
resolver's wrapper, an awaitable check on every value and every list item, four nested completion calls):
for a page of 20 pets about 300 fields, a fifth of the request's CPU (docs/performance.md, log entry 24).

``PlainCompletingExecutor`` completes an object whose selected fields are all *plain* (a strawberry
field read with ``getattr``, no arguments, no directive but ``@include``/``@skip``, of a scalar, enum,
object or list type, objects without ``is_type_of``) in one loop, with the same coercions graphql-core
calls (``coerce_output_value``) and the same awaitable check. Anything the loop does not handle exactly
as graphql-core would (a null where the schema promises a value, a value that cannot be coerced, an
awaitable, an exception as a value, an iterable other than a list or tuple) abandons the loop for that
object: graphql-core completes it from the start, its errors and all. That reads its plain fields again,
which assumes reading one has no effect: true of every source this service has (dataclass attributes), not
checked for a property or a ``__getattr__``. ``__typename`` is planned as the object type's name, which is
what graphql-core's meta field gives on an object type.

A kept plan (``CompletionPlans``) that has completed ``COMPILE_AFTER`` objects is compiled into straight-line
code doing the same (``_compiled``): the loop's common cases written out, every other value handed to it.

Fields with resolvers (the root fields, ``forecast``, ``drift``) and objects holding any are left to
graphql-core, which comes back here for the plain objects below them.
tests/unit/graphql/test_completion.py compares both on generated documents and on values built to fail.
"""

from collections import OrderedDict
from collections.abc import Callable, Sequence
from keyword import iskeyword
from types import GeneratorType
from typing import Any, ClassVar, cast

from graphql import (
    DirectiveNode,
    GraphQLBoolean,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    Undefined,
    VariableNode,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import DeferUsage, FieldDetails, GroupedFieldSet
from graphql.language import Visitor
from graphql.type.scalars import GRAPHQL_MAX_INT, GRAPHQL_MIN_INT

from pixelpet.graphql.seam import (
    STRAWBERRY_ENUM_COERCION,
    StrawberryGraphQLCoreExecutionContext,
    plain_attribute,
)

# The directives a plain field may carry: the field's collection already applied them.
_APPLIED_AT_COLLECTION = frozenset({"include", "skip"})


class _NotPlain(Exception):
    """A value the loop does not complete exactly as graphql-core would: graphql-core completes the object."""


# Leaves whose coercion returns a value of exactly this type unchanged (graphql-core's serialize_string,
# serialize_id, serialize_boolean): such a value needs no coercion call.
_AS_IS: dict[Any, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}
# Never awaitable: strawberry's own fast check (optimized_is_awaitable), made here without the call.
_NEVER_AWAITABLE = frozenset({str, int, float, bool, list, tuple})


def _enum_names(leaf: GraphQLLeafType | None) -> tuple[type | None, dict[Any, str]]:
    """For strawberry's enum type with text values: its Python enum and, by member value, the name its
    coercion answers (the first whose value equals the member's: strawberry's loop over the values, done
    once). None for any other leaf."""
    wrapped = getattr(leaf, "wrapped_cls", None)
    if wrapped is None or getattr(type(leaf), "coerce_output_value", None) is not STRAWBERRY_ENUM_COERCION:
        return None, {}
    values = leaf.values.items()  # type: ignore[union-attr]
    if not all(type(value.value) is str for _, value in values):
        return None, {}  # a dictionary finds a text exactly where equality does; other values may differ
    names: dict[Any, str] = {}
    for name, value in values:
        names.setdefault(value.value, name)
    return wrapped, names


class _Shape:
    """How to complete one output type's value: a leaf's coercion, an object's plan, or a list of either."""

    __slots__ = (
        "as_is",
        "enum_class",
        "enum_names",
        "item",
        "leaf",
        "non_null",
        "plain_classes",
        "plan",
        "typename",
        "whole",
    )

    def __init__(
        self,
        *,
        non_null: bool,
        leaf: GraphQLLeafType | None = None,
        plan: "_Plan | None" = None,
        item: "_Shape | None" = None,
        typename: str | None = None,
    ) -> None:
        self.non_null = non_null
        self.typename = typename
        self.leaf = leaf
        self.as_is = _AS_IS.get(leaf)
        # graphql-core's Int returns an int of exactly that type unchanged when it is in 32-bit range.
        self.whole = leaf is GraphQLInt
        self.enum_class, self.enum_names = _enum_names(leaf)
        self.plan = plan
        self.item = item
        # An object's classes whose values passed the awaitable check: awaitability is a class's
        # (graphql-core's check reads the class and ``__await__``; no source here sets ``__await__`` on an
        # instance).
        self.plain_classes: set[type] = set()


# Objects a kept plan completes in the loop before it is compiled. Compiling one costs 70 to 200 µs (timeit,
# log entry 40), about what the compiled code saves over a hundred objects: a document used a few times
# (its values written into its text, say) never pays it, and a page of 20 pays it by its fifth request.
COMPILE_AFTER = 100


class _Plan:
    """An object's selected fields, each a response key, the attribute to read (None for ``__typename``)
    and its shape. A plan kept across requests is compiled into straight-line code (``_compiled``) once it
    has completed ``COMPILE_AFTER`` objects, the plans inside it with it."""

    __slots__ = ("code", "fields", "uses_left")

    def __init__(self, fields: list[tuple[str, str | None, _Shape]]) -> None:
        self.fields = fields
        self.code: Callable[[Any, Callable[[Any], bool]], dict[str, Any]] | None = None
        self.uses_left: int | None = None  # counted down once kept; None: never compiled

    def keep(self, compile_after: int) -> None:
        self.uses_left = compile_after

    def compile(self) -> None:
        self.uses_left = None
        self.code = _compiled(self.fields)


# A plan by its object type and the field nodes it completes (their ids: the book keeps the nodes alive).
_Signature = tuple[str, tuple[int, ...]]
# Combinations of switch values kept per operation: a client choosing fresh values per request (n switches
# make 2**n) must not grow the cache; past this, new combinations work their plans out per request.
MAX_SWITCH_COMBINATIONS = 16


class _Book:
    """The plans of one operation, for each combination of the variables its ``@include``/``@skip`` read."""

    __slots__ = ("keep", "plans", "switches")

    def __init__(self, keep: tuple[Any, ...], switches: tuple[str, ...]) -> None:
        self.keep = keep  # the schema and the document's nodes, so that no id above is reused
        self.switches = switches
        self.plans: dict[tuple[Any, ...], dict[_Signature, _Plan | None]] = {}


class CompletionPlans:
    """Plans kept across requests for the ``size`` operations used last (a plan costs about as much to work
    out as to run, for a single pet). Which fields an object's selection holds depends only on the operation
    and the variables its ``@include``/``@skip`` read, so those values are part of the key."""

    def __init__(self, size: int, *, compile_after: int = COMPILE_AFTER) -> None:
        self._size = size
        self.compile_after = compile_after
        self._books: OrderedDict[tuple[int, int], _Book] = OrderedDict()
        self.executor_class: type[PlainCompletingExecutor] = type(
            "KeptPlansExecutor", (PlainCompletingExecutor,), {"kept_plans": self}
        )

    def plans_for(self, executor: "PlainCompletingExecutor") -> dict[_Signature, "_Plan | None"] | None:
        key = (id(executor.schema), id(executor.operation))
        book = self._books.get(key)
        if book is None:
            fragments = tuple(executor.fragment_definitions.values())
            book = _Book(
                (executor.schema, executor.operation, fragments), _switches(executor.operation, *fragments)
            )
            self._books[key] = book
            if len(self._books) > self._size:
                self._books.popitem(last=False)
        else:
            self._books.move_to_end(key)
        # Validation made each a Boolean (or null): hashable.
        values = tuple(executor.variable_values.coerced.get(name) for name in book.switches)
        plans = book.plans.get(values)
        if plans is None and len(book.plans) < MAX_SWITCH_COMBINATIONS:
            plans = book.plans[values] = {}
        return plans


def _switches(*nodes: Any) -> tuple[str, ...]:
    """The variables any ``@include``/``@skip`` in ``nodes`` (an operation and its fragments) reads."""
    switches = _Switches()
    for node in nodes:
        visit(node, switches)
    return tuple(sorted(switches.names))


class _Switches(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value in _APPLIED_AT_COLLECTION:
            self.names.update(
                argument.value.name.value
                for argument in node.arguments or ()
                if isinstance(argument.value, VariableNode)
            )


class PlainCompletingExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, completing plain objects in one loop (module docstring)."""

    # Set on the class ``CompletionPlans.executor_class`` makes: plans kept across requests.
    kept_plans: ClassVar[CompletionPlans | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # By the grouped field set graphql-core collected for this execution (fast for a list's items)...
        self._plans: dict[tuple[str, int], tuple[GroupedFieldSet, _Plan | None]] = {}
        # ...and by the field nodes, for the operation and its switches, across executions.
        self._kept = self.kept_plans.plans_for(self) if self.kept_plans is not None else None

    def execute_collected_subfields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: GroupedFieldSet,
        new_defer_usages: Sequence[DeferUsage],
        delivery_group_map: Any,
    ) -> Any:
        # Middleware wraps every resolver, plain ones too: graphql-core must call them.
        if delivery_group_map is None and not new_defer_usages and self.middleware_manager is None:
            plan = self._plan(parent_type, grouped_field_set)
            if plan is not None:
                try:
                    return _complete_object(plan, source_value, self.is_awaitable)
                except Exception:  # noqa: S110 - not plain: graphql-core completes it, errors and all
                    pass
        return super().execute_collected_subfields(
            parent_type, source_value, path, grouped_field_set, new_defer_usages, delivery_group_map
        )

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> _Plan | None:
        key = (parent_type.name, id(grouped_field_set))
        known = self._plans.get(key)
        if known is not None:
            return known[1]
        kept = self._kept
        if kept is None:
            plan = self._compile(parent_type, grouped_field_set)
        else:
            signature = (parent_type.name, tuple(id(d.node) for ds in grouped_field_set.values() for d in ds))
            if signature in kept:
                plan = kept[signature]
            else:
                plan = kept[signature] = self._compile(parent_type, grouped_field_set)
                if plan is not None:
                    assert self.kept_plans is not None  # what gave the kept plans
                    plan.keep(self.kept_plans.compile_after)  # worked out once, run for every request
        self._plans[key] = (grouped_field_set, plan)  # keeps the set alive, so its id stays its own
        return plan

    def _compile(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> _Plan | None:
        if parent_type.is_type_of is not None:
            return None
        fields: list[tuple[str, str | None, _Shape]] = []
        for response_key, field_details_list in grouped_field_set.items():
            name = field_details_list[0].node.name.value
            if name == "__typename" and _plain_nodes(field_details_list):
                # What graphql-core's meta field resolves to on an object type: its name.
                fields.append((response_key, None, _Shape(non_null=True, typename=parent_type.name)))
                continue
            field_def = parent_type.fields.get(name)
            if field_def is None or field_def.args or not _plain_nodes(field_details_list):
                return None
            attribute = plain_attribute(field_def)
            if attribute is None:
                return None
            shape = self._shape(field_def.type, field_details_list)
            if shape is None:
                return None
            fields.append((response_key, attribute, shape))
        return _Plan(fields)

    def _shape(self, type_: GraphQLOutputType, field_details_list: list[FieldDetails]) -> _Shape | None:
        non_null = is_non_null_type(type_)
        if non_null:
            assert isinstance(type_, GraphQLNonNull)
            type_ = type_.of_type
        if is_leaf_type(type_):
            assert isinstance(type_, GraphQLLeafType)
            return _Shape(non_null=non_null, leaf=type_)
        if is_list_type(type_):
            assert isinstance(type_, GraphQLList)
            item = self._shape(type_.of_type, field_details_list)
            return _Shape(non_null=non_null, item=item) if item is not None else None
        if is_object_type(type_):
            assert isinstance(type_, GraphQLObjectType)
            grouped_field_set, new_defer_usages, forbidden = self.collect_subfields(type_, field_details_list)
            if new_defer_usages or forbidden:
                return None
            plan = self._plan(type_, grouped_field_set)
            return _Shape(non_null=non_null, plan=plan) if plan is not None else None
        return None  # interfaces and unions: graphql-core resolves their runtime type


def _plain_nodes(field_details_list: list[FieldDetails]) -> bool:
    return all(
        details.defer_usage is None
        and not details.node.arguments
        and all(directive.name.value in _APPLIED_AT_COLLECTION for directive in details.node.directives or ())
        for details in field_details_list
    )


def _complete_object(plan: _Plan, source: Any, is_awaitable: Callable[[Any], bool]) -> dict[str, Any]:
    code = plan.code
    if code is not None:
        return code(source, is_awaitable)
    if plan.uses_left is not None:
        plan.uses_left -= 1
        if plan.uses_left <= 0:
            plan.compile()
            return _complete_object(plan, source, is_awaitable)
    return {
        response_key: shape.typename
        if attribute is None
        else _complete(shape, getattr(source, attribute), is_awaitable)
        for response_key, attribute, shape in plan.fields
    }


def _complete(shape: _Shape, value: Any, is_awaitable: Callable[[Any], bool]) -> Any:
    kind = type(value)
    if kind is shape.as_is:
        return value
    if shape.whole and kind is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT:
        return value
    if value is None or value is Undefined:
        if shape.non_null:
            raise _NotPlain  # graphql-core's error, at its path
        return None
    if kind not in _NEVER_AWAITABLE and (isinstance(value, Exception) or is_awaitable(value)):
        raise _NotPlain
    if shape.leaf is not None:
        if kind is shape.enum_class:
            name = shape.enum_names.get(value.value)
            if name is not None:
                return name
        coerced = shape.leaf.coerce_output_value(value)
        if coerced is None or coerced is Undefined:
            raise _NotPlain
        return coerced
    if shape.plan is not None:
        if kind is not GeneratorType:  # a generator's awaitability is its own, not its class's
            shape.plain_classes.add(kind)
        return _complete_object(shape.plan, value, is_awaitable)
    item = shape.item
    assert item is not None
    if kind is not list and kind is not tuple:
        raise _NotPlain  # other iterables (and strings, which are none) as graphql-core decides
    return [_complete(item, element, is_awaitable) for element in value]


# Straight-line code for a kept plan: what ``_complete_object`` and ``_complete`` do for its fields, with the
# common cases written out (a text, an Int in range, an enum member, an object of a class that passed
# before, a list of them) and every other value handed to ``_complete`` itself. Per pet of a page, the loop's
# calls and its checks on values that cannot be awaited were about a third of completion (log entry 40).
def _compiled(
    fields: list[tuple[str, str | None, _Shape]],
) -> Callable[[Any, Callable[[Any], bool]], dict[str, Any]]:
    namespace: dict[str, Any] = {
        "_complete": _complete,
        "_complete_object": _complete_object,
        "MIN": GRAPHQL_MIN_INT,
        "MAX": GRAPHQL_MAX_INT,
    }
    lines: list[str] = []
    members: list[str] = []
    for n, (response_key, attribute, shape) in enumerate(fields):
        if attribute is None:
            members.append(f"{response_key!r}: {shape.typename!r}")
            continue
        value, name = f"v{n}", f"S{n}"
        namespace[name] = shape
        # An attribute written into the source only as plain ASCII (Python normalizes other identifiers,
        # getattr does not); any other name is read with getattr, given as a literal.
        plain_name = attribute.isascii() and attribute.isidentifier() and not iskeyword(attribute)
        read = f"source.{attribute}" if plain_name else None
        lines.append(f"{value} = {read or f'getattr(source, {attribute!r})'}")
        lines.extend(_completing(value, shape, name, namespace))
        members.append(f"{response_key!r}: {value}")
    code = "def complete(source, is_awaitable):\n"
    code += "".join(f"    {line}\n" for line in lines)
    code += f"    return {{{', '.join(members)}}}\n"
    # Response keys (a client's aliases), attribute names and type names enter the text only as literals
    # (repr) or as checked ASCII identifiers; every other value is in the namespace.
    exec(compile(code, "<completion plan>", "exec"), namespace)  # noqa: S102
    return cast("Callable[[Any, Callable[[Any], bool]], dict[str, Any]]", namespace["complete"])


def _completing(value: str, shape: _Shape, name: str, namespace: dict[str, Any]) -> list[str]:
    """The statements that complete ``value`` (a local) as ``_complete(shape, value)`` would."""
    slow = f"{value} = _complete({name}, {value}, is_awaitable)"
    if shape.item is not None:
        namespace[f"{name}_item"] = shape.item
        element = _element(f"{value}_item", shape.item, f"{name}_item", namespace)
        return [
            f"if type({value}) is list or type({value}) is tuple:",
            f"    {value} = [{element} for {value}_item in {value}]",
            "else:",
            f"    {slow}",
        ]
    common = _common(value, shape, name, namespace)
    if common is None:
        return [slow]
    condition, completed = common
    if completed == value:
        return [f"if not ({condition}):", f"    {slow}"]
    return [f"if {condition}:", f"    {value} = {completed}", "else:", f"    {slow}"]


def _element(value: str, shape: _Shape, name: str, namespace: dict[str, Any]) -> str:
    """An expression completing a list's element ``value`` as ``_complete(shape, value)`` would."""
    slow = f"_complete({name}, {value}, is_awaitable)"
    common = _common(value, shape, name, namespace) if shape.item is None else None
    if common is None:
        return slow
    condition, completed = common
    return f"({completed} if {condition} else {slow})"


def _common(value: str, shape: _Shape, name: str, namespace: dict[str, Any]) -> tuple[str, str] | None:
    """The common case of ``shape``'s values: a condition on ``value`` and, where it holds, the completed
    value (what ``_complete`` answers for it). None where every value goes to ``_complete``."""
    if shape.as_is is not None:
        namespace[f"{name}_type"] = shape.as_is
        return f"type({value}) is {name}_type", value
    if shape.whole:
        return f"type({value}) is int and MIN <= {value} <= MAX", value
    if shape.enum_class is not None and _never_awaited(shape.enum_class):
        namespace[f"{name}_enum"], namespace[f"{name}_names"] = shape.enum_class, shape.enum_names
        named = f"{value}_name"
        return (
            f"type({value}) is {name}_enum and ({named} := {name}_names.get({value}.value)) is not None",
            named,
        )
    if shape.plan is not None:
        namespace[f"{name}_classes"] = shape.plain_classes  # the set itself: _complete adds to it
        if shape.plan.code is None and shape.plan.uses_left is not None:
            shape.plan.compile()  # kept, as the plan it is in: compiled together
        if shape.plan.code is None:  # not kept
            namespace[f"{name}_plan"] = shape.plan
            return f"type({value}) in {name}_classes", f"_complete_object({name}_plan, {value}, is_awaitable)"
        namespace[f"{name}_code"] = shape.plan.code
        return f"type({value}) in {name}_classes", f"{name}_code({value}, is_awaitable)"
    return None


def _never_awaited(enum_class: type) -> bool:
    return not issubclass(enum_class, Exception) and not hasattr(enum_class, "__await__")
