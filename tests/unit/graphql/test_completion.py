"""Plain completion (pixelpet/graphql/completion.py) against graphql-core's own, on values built to fail.

A schema with every shape the loop handles (scalars, an enum, nullable and non-null, lists of leaves and
of objects, nested objects) and those it leaves to graphql-core (a resolver, arguments, an interface)
is executed twice on the same documents and the same values: once by strawberry's execution context,
once by ``PlainCompletingExecutor``. Data and errors (message, path, locations) must be the same, for
well-formed values and for values graphql-core refuses or awaits (nulls where a value is promised,
values no scalar takes, exceptions and awaitables as values, iterables other than lists).
"""

import asyncio
import enum
import json
from collections.abc import Callable, Generator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, NewType

import pytest
import strawberry
from graphql import DocumentNode, ExecutionResult, Undefined, parse, print_ast
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.schema.config import StrawberryConfig
from strawberry.utils.str_converters import to_camel_case as to_camel

from pixelpet.graphql import completion
from pixelpet.graphql.completion import (
    COMPILE_AFTER,
    MAX_SWITCH_COMBINATIONS,
    CompletionPlans,
    PlainCompletingExecutor,
)
from pixelpet.graphql.seam import StrawberryGraphQLCoreExecutionContext, core_schema, execute_document


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Whole(enum.IntEnum):
    ONE = 1


# A scalar whose coercion gives null for 0, which graphql-core refuses.
Code = NewType("Code", int)
# A scalar that takes anything, as a JSON scalar would (its answer: the value's type).
Raw = NewType("Raw", str)
RAW = strawberry.scalar(name="Raw", serialize=lambda value: type(value).__name__, parse_value=str)
CODE = strawberry.scalar(name="Code", serialize=lambda value: int(value) or None, parse_value=int)


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Dog(Named):
    barks: int


@strawberry.type
class Inner:
    a: int
    b: str
    dog: Dog | None = None


@strawberry.type
class Leaf:
    n: int
    text: str
    ratio: float
    flag: bool
    ident: strawberry.ID
    at: datetime
    color: Color
    maybe: int | None
    colors: list[Color]
    maybe_list: list[int | None] | None
    code: Code
    raw: Raw
    inner: Inner


@strawberry.type
class Node:
    leaf: Leaf
    leaves: list[Leaf]
    maybe_leaf: Leaf | None
    pet: Named
    children: list["Node"] | None

    @strawberry.field
    def computed(self) -> int:
        return len(self.leaves) if isinstance(self.leaves, list) else -1

    @strawberry.field
    def times(self, x: int) -> int:
        return x * 2


@dataclass
class Later:
    """An awaitable value (not a coroutine: one never awaited warns)."""

    value: Any

    def __await__(self) -> Generator[Any, None, Any]:
        yield from asyncio.sleep(0).__await__()
        return self.value


@dataclass
class AwaitsALeaf(Leaf):
    """A leaf's attributes, yet awaitable: graphql-core completes the leaf it gives, never its own
    attributes (which say so if a loop read them)."""

    given: Any = None

    def __await__(self) -> Generator[Any, None, Any]:
        yield from asyncio.sleep(0).__await__()
        return self.given


@dataclass(frozen=True)
class Iterates:
    """An iterator that is no list, made afresh for each execution (one is used up by the first)."""

    items: tuple[Any, ...]


@strawberry.type
class Query:
    @strawberry.field
    def node(self, info: strawberry.Info) -> Node:
        build: Callable[[], Node] = info.context["node"]
        return build()


SCHEMA = core_schema(
    strawberry.Schema(query=Query, types=[Dog], config=StrawberryConfig(scalar_map={Code: CODE, Raw: RAW}))
)
MOMENT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

GOOD = {
    "n": st.integers(-(2**31), 2**31 - 1),
    "text": st.text(max_size=5),
    "ratio": st.floats(allow_nan=False, allow_infinity=False),
    "flag": st.booleans(),
    "ident": st.text(max_size=3),
    "at": st.just(MOMENT),
    "color": st.sampled_from(Color),
    "maybe": st.none() | st.integers(0, 9),
    "colors": st.lists(st.sampled_from(Color), max_size=3),
    "maybe_list": st.none() | st.lists(st.none() | st.integers(0, 9), max_size=3),
    "code": st.integers(1, 9),
    "raw": st.text(max_size=3),
}
# Values graphql-core refuses or treats in its own way in some field; the loop must leave each to it.
ODD = [
    None,
    Undefined,
    "x",
    "",
    0,
    7,
    1.5,
    2**40,
    2**31 - 1,  # the Int range's ends, and one past each
    2**31,
    -(2**31),
    -(2**31) - 1,
    Whole.ONE,  # an int of another type
    True,
    "red",
    Color.BLUE,
    MOMENT,
    ValueError("a value that is an exception"),
    {"a": 1},
    {1, 2},
    [1, None],
    (Color.RED,),
    Iterates((1, 2)),
]
BAD = st.sampled_from(ODD)


@st.composite
def leaf_spec(draw: st.DrawFn) -> dict[str, Any]:
    """A leaf's values, all well formed but perhaps one: refused by graphql-core, or awaitable."""
    spec = {name: ("value", draw(good)) for name, good in GOOD.items()}
    odd = draw(st.none() | st.sampled_from(sorted(GOOD)))
    if odd is not None:
        if draw(st.booleans()):
            spec[odd] = ("value", draw(BAD))
        else:
            spec[odd] = ("later", draw(GOOD[odd] | BAD))
    return spec


@st.composite
def node_spec(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    """A node whose leaves share one leaf's values (so that its odd value, if any, is met wherever the
    document looks), each perhaps null, the list perhaps no list."""
    leaf = draw(leaf_spec())
    # An object itself awaitable or an exception, seldom: the loop must leave both to graphql-core.
    present = st.sampled_from([leaf] * 6 + [None, ("later", leaf), ("error", leaf)])
    children = draw(st.none() | st.lists(node_spec(depth - 1), max_size=2)) if depth > 0 else None
    return {
        "leaf": draw(present),
        "leaves": draw(st.lists(present, max_size=3) | st.sampled_from([None, "ab"])),
        "maybe_leaf": draw(present),
        "children": children,
        "as_tuple": draw(st.booleans()),
    }


def _value(pair: tuple[str, Any]) -> Any:
    kind, value = pair
    if isinstance(value, Exception):
        value = type(value)(*value.args)  # each execution its own
    if isinstance(value, Iterates):
        value = iter(value.items)
    return Later(value) if kind == "later" else value


def _leaf(spec: dict[str, Any] | tuple[str, dict[str, Any]] | None) -> Any:
    if spec is None:
        return None
    if isinstance(spec, tuple):
        kind, inner = spec
        if kind == "error":
            return ValueError("an object that is an exception")
        given = _leaf(inner)
        own = {field.name: getattr(given, field.name) for field in fields(Leaf)} | {"text": "not awaited"}
        return AwaitsALeaf(**own, given=given)
    return Leaf(**{name: _value(pair) for name, pair in spec.items()}, inner=Inner(a=1, b="b"))


def _node(spec: dict[str, Any]) -> Node:
    leaves = spec["leaves"]
    if isinstance(leaves, list):
        leaves = [_leaf(leaf) for leaf in leaves]
        if spec["as_tuple"]:
            leaves = tuple(leaves)
    children = spec["children"]
    return Node(
        leaf=_leaf(spec["leaf"]),  # type: ignore[arg-type]  # a null where one is promised, on purpose
        leaves=leaves,
        maybe_leaf=_leaf(spec["maybe_leaf"]),
        pet=Dog(name="Rex", barks=3),
        children=None if children is None else [_node(child) for child in children],
    )


LEAF_FIELDS = [*(to_camel(name) for name in GOOD), "__typename"]
# A plain object in a plain object, its selection switched by $flag: the outer plan depends on it.
SWITCHED = ["inner { a b @include(if: $flag) }", "inner { a @skip(if: $flag) }"]
NODE_FIELDS = ["computed", "times(x: 2)", "pet { name ... on Dog { barks } __typename }", "__typename"]


@st.composite
def selections(draw: st.DrawFn, depth: int) -> str:
    """A node's selection set: fields perhaps aliased, repeated, behind a directive or in a fragment."""
    leaf = st.just(" ".join(LEAF_FIELDS)) | st.lists(
        st.sampled_from([*LEAF_FIELDS, *SWITCHED]), min_size=1
    ).map(" ".join)
    chosen = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["leaf", "leaves", "maybeLeaf", "node", "children"]))
        if kind == "children" and depth == 0:
            continue
        if kind == "node":
            field = draw(st.sampled_from(NODE_FIELDS))
        elif kind == "children":
            field = f"children {{ {draw(selections(depth - 1))} }}"
        else:
            field = f"{kind} {{ {draw(leaf)} }}"
        alias = draw(st.sampled_from(["", "", "x: ", "y: "]))
        directive = draw(st.sampled_from(["", "", " @include(if: $flag)", " @skip(if: $flag)"]))
        head, brace, rest = field.partition(" {")
        text = f"{alias}{head}{directive}{brace}{rest}"
        chosen.append(f"... on Node {{ {text} }}" if draw(st.booleans()) else text)
    return " ".join(chosen) or "__typename"


async def _run(
    executor: type[StrawberryGraphQLCoreExecutionContext],
    document: str | DocumentNode,
    spec: dict[str, Any],
    flag: bool,
) -> ExecutionResult:
    return await execute_document(
        SCHEMA,
        parse(document) if isinstance(document, str) else document,
        executor_class=executor,
        context={"node": lambda: _node(spec)},
        operation_name=None,
        variables={"flag": flag},
    )


def _wire(data: Any) -> str:
    """The data as a client receives it: JSON tells True from 1, which == on Python values does not."""
    return json.dumps(data, default=repr)


def _errors(result: ExecutionResult) -> list[tuple[str, Any, Any]]:
    return [(error.message, error.path, error.locations) for error in result.errors or []]


# Plans kept across every example below, as the service keeps them across requests (few, to evict too), and
# compiled at their first use, so that every example runs the compiled code (the loop: the other executor).
KEPT = CompletionPlans(size=4, compile_after=1)


@settings(max_examples=300, deadline=None)
@given(body=selections(2), spec=node_spec(2), flags=st.lists(st.booleans(), min_size=1, max_size=3))
async def test_plain_completion_answers_as_graphql_core_does(
    body: str, spec: dict[str, Any], flags: list[bool]
) -> None:
    document = parse(f"query($flag: Boolean!) {{ node {{ {body} }} }}")
    for flag in flags:  # one document, its switches changing between executions
        theirs = await _run(StrawberryGraphQLCoreExecutionContext, document, spec, flag)
        for executor in (PlainCompletingExecutor, KEPT.executor_class):
            ours = await _run(executor, document, spec, flag)
            assert _wire(ours.data) == _wire(theirs.data), (print_ast(document), flag, executor)
            assert _errors(ours) == _errors(theirs), (print_ast(document), flag, executor)


async def test_plans_are_kept_for_an_operation_and_its_switches() -> None:
    plans = CompletionPlans(size=1)
    compiled: list[str] = []

    class Counting(plans.executor_class):  # type: ignore[misc,valid-type]
        def _compile(self, parent_type: Any, grouped_field_set: Any) -> Any:
            compiled.append(parent_type.name)
            return super()._compile(parent_type, grouped_field_set)

    spec = {name: ("value", value) for name, value in WELL_FORMED.items()}
    node = {"leaf": spec, "leaves": [spec], "maybe_leaf": spec, "children": None, "as_tuple": False}
    switched = parse(
        "query($flag: Boolean!) { node { leaf { n inner { a b @include(if: $flag) } } maybeLeaf { n } } }"
    )
    other = parse("{ node { leaf { n } } }")
    for flag in (True, True, False, False, True):
        result = await _run(Counting, switched, node, flag)
        inner = {"a": 1, "b": "b"} if flag else {"a": 1}
        assert result.data == {"node": {"leaf": {"n": 1, "inner": inner}, "maybeLeaf": {"n": 1}}}
    # Once for each value of $flag: the node (not plain: it has resolvers), the two leaves and the object
    # inside the first. That leaf's own fields do not change with $flag; the plan of the object inside does.
    assert compiled == ["Node", "Leaf", "Inner", "Leaf"] * 2
    await _run(Counting, other, node, True)
    await _run(Counting, switched, node, True)  # the other operation took its place
    assert compiled == [
        *(["Node", "Leaf", "Inner", "Leaf"] * 2),
        "Node",
        "Leaf",
        "Node",
        "Leaf",
        "Inner",
        "Leaf",
    ]


WELL_FORMED = {
    "n": 1,
    "text": "a",
    "ratio": 0.5,
    "flag": True,
    "ident": "i",
    "at": MOMENT,
    "color": Color.RED,
    "maybe": None,
    "colors": [Color.BLUE],
    "maybe_list": [1, None],
    "code": 3,
    "raw": "r",
}
ALL_LEAF_FIELDS = " ".join(LEAF_FIELDS)


@pytest.mark.parametrize("kind", ["value", "later"])
@pytest.mark.parametrize("field", sorted(GOOD))
async def test_every_odd_value_in_every_field_is_answered_as_graphql_core_does(field: str, kind: str) -> None:
    """Each odd value (and each well-formed one, awaitable) in each field, wherever a leaf is."""
    for odd in [*ODD, WELL_FORMED[field]]:
        leaf = {name: ("value", value) for name, value in WELL_FORMED.items()} | {field: (kind, odd)}
        child = {"leaf": leaf, "leaves": [leaf], "maybe_leaf": None, "children": None, "as_tuple": True}
        node = {"leaf": leaf, "leaves": [leaf, leaf], "maybe_leaf": leaf, "children": [child]}
        for selected in (ALL_LEAF_FIELDS, to_camel(field)):
            document = (
                f"{{ node {{ leaf {{ {selected} }} leaves {{ {selected} }} maybeLeaf {{ {selected} }} "
                f"children {{ leaves {{ {selected} }} }} }} }}"
            )
            spec = node | {"as_tuple": False}
            theirs = await _run(StrawberryGraphQLCoreExecutionContext, document, spec, True)
            for executor in (PlainCompletingExecutor, KEPT.executor_class):
                ours = await _run(executor, document, spec, True)
                assert _wire(ours.data) == _wire(theirs.data), (document, odd, executor)
                assert _errors(ours) == _errors(theirs), (document, odd, executor)


async def test_a_plain_object_is_completed_without_graphql_core() -> None:
    """The loop does take plain objects (the test above would pass with a loop that never runs)."""
    seen: list[str] = []

    class Counting(PlainCompletingExecutor):
        def execute_field(self, parent_type: Any, *args: Any) -> Any:
            seen.append(parent_type.name)
            return super().execute_field(parent_type, *args)

    spec = {name: ("value", value) for name, value in WELL_FORMED.items()}
    node = {"leaf": spec, "leaves": [spec, spec], "maybe_leaf": None, "children": None, "as_tuple": False}
    document = "{ node { leaf { n color at __typename } leaves { text colors maybeList } computed } }"
    result = await _run(Counting, document, node, True)
    assert result.errors is None
    assert result.data == {
        "node": {
            "leaf": {"n": 1, "color": "RED", "at": MOMENT.isoformat(), "__typename": "Leaf"},
            "leaves": [{"text": "a", "colors": ["BLUE"], "maybeList": [1, None]}] * 2,
            "computed": 2,
        }
    }
    # graphql-core resolves the root field and the node (it has a resolver), not the plain leaves (their
    # __typename included: clients such as Apollo's add it to every selection).
    assert seen == ["Query", "Node", "Node", "Node"]


@dataclass
class LooksLikeADog:
    """Has a Dog's attributes but is none: graphql-core's ``is_type_of`` refuses it."""

    name: str = "Rex"
    barks: int = 3


async def test_an_object_with_is_type_of_is_left_to_graphql_core() -> None:
    spec = {name: ("value", value) for name, value in WELL_FORMED.items()}
    node = {"leaf": spec, "leaves": [], "maybe_leaf": None, "children": None, "as_tuple": False}
    document = parse("{ node { leaf { inner { a dog { name barks __typename } } } } }")

    def build() -> Node:
        built = _node(node)
        built.leaf.inner = Inner(a=1, b="b", dog=LooksLikeADog())  # type: ignore[arg-type]  # on purpose
        return built

    results = [
        await execute_document(
            SCHEMA,
            document,
            executor_class=executor,
            context={"node": build},
            operation_name=None,
            variables={},
        )
        for executor in (StrawberryGraphQLCoreExecutionContext, KEPT.executor_class)
    ]
    assert results[0].errors, "graphql-core refuses a value that is not a Dog"
    assert results[1].data == results[0].data
    assert _errors(results[1]) == _errors(results[0])


async def test_a_switch_in_a_named_fragment_is_part_of_the_kept_plans_key() -> None:
    spec = {name: ("value", value) for name, value in WELL_FORMED.items()}
    node = {"leaf": spec, "leaves": [], "maybe_leaf": None, "children": None, "as_tuple": False}
    document = parse(
        "query($flag: Boolean!) { node { leaf { ...L } } }"
        " fragment L on Leaf { n inner @include(if: $flag) { a } }"
    )
    plans = CompletionPlans(size=4)
    for flag in (True, False, True):
        theirs = await _run(StrawberryGraphQLCoreExecutionContext, document, node, flag)
        ours = await _run(plans.executor_class, document, node, flag)
        assert (
            ours.data == theirs.data == {"node": {"leaf": {"n": 1, **({"inner": {"a": 1}} if flag else {})}}}
        )


async def test_switch_values_chosen_afresh_do_not_grow_the_kept_plans() -> None:
    """Twenty switches give a client a million combinations: only the first few are kept."""
    spec = {name: ("value", value) for name, value in WELL_FORMED.items()}
    node = {"leaf": spec, "leaves": [], "maybe_leaf": None, "children": None, "as_tuple": False}
    switches = [f"s{n}" for n in range(20)]
    parameters = ", ".join(f"${name}: Boolean!" for name in switches)
    fields = " ".join(f"{name}: n @include(if: ${name})" for name in switches)
    document = parse(f"query({parameters}) {{ node {{ leaf {{ {fields} }} }} }}")
    plans = CompletionPlans(size=4)
    compiled: list[int] = []

    class Counting(plans.executor_class):  # type: ignore[misc,valid-type]
        def _compile(self, parent_type: Any, grouped_field_set: Any) -> Any:
            compiled.append(len(grouped_field_set))
            return super()._compile(parent_type, grouped_field_set)

    kept = []
    for combination in range(64):
        values = {name: bool(combination >> bit & 1) for bit, name in enumerate(switches)}
        executor = Counting.build(
            SCHEMA, document, context_value={"node": lambda: _node(node)}, raw_variable_values=values
        )
        assert not isinstance(executor, list)
        kept.append(executor._kept is not None)
        result = await execute_document(
            SCHEMA,
            document,
            executor_class=Counting,
            context={"node": lambda: _node(node)},
            operation_name=None,
            variables=values,
        )
        assert result.data == {"node": {"leaf": {name: 1 for name, on in values.items() if on}}}
    assert kept == [True] * MAX_SWITCH_COMBINATIONS + [False] * (64 - MAX_SWITCH_COMBINATIONS)


async def test_a_kept_plan_is_compiled_once_it_has_completed_enough_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled: list[list[str]] = []

    def counting(fields: list[tuple[str, str | None, Any]]) -> Any:
        compiled.append([response_key for response_key, _, _ in fields])
        return real(fields)

    real = completion._compiled
    monkeypatch.setattr(completion, "_compiled", counting)
    plans = CompletionPlans(size=4)
    spec = {name: ("value", value) for name, value in WELL_FORMED.items()}
    one = {"leaf": spec, "leaves": [], "maybe_leaf": None, "children": None, "as_tuple": False}
    single = parse("{ node { leaf { n inner { a } } } }")
    answers = []
    for _ in range(COMPILE_AFTER):
        answers.append((await _run(plans.executor_class, single, one, True)).data)
        if len(answers) < COMPILE_AFTER:
            assert compiled == [], "a document used a few times is never compiled"
    # The node's (its selection is plain here), the leaf's and the inner object's: each with the plans in it.
    assert compiled == [["leaf"], ["n", "inner"], ["a"]]
    answers.append((await _run(plans.executor_class, single, one, True)).data)
    assert answers == [{"node": {"leaf": {"n": 1, "inner": {"a": 1}}}}] * (COMPILE_AFTER + 1)
    assert len(compiled) == 3, "compiled once"

    compiled.clear()
    many = one | {"leaves": [spec] * (COMPILE_AFTER + 2)}
    result = await _run(plans.executor_class, parse("{ node { leaves { n } } }"), many, True)
    assert result.data == {"node": {"leaves": [{"n": 1}] * (COMPILE_AFTER + 2)}}
    assert compiled == [["n"]], "a long list compiles its items' plan in its first execution"


async def test_an_awaitable_object_is_awaited_each_time_a_compiled_plan_meets_it() -> None:
    """Its class is never taken for a plain one: the compiled plan hands it to graphql-core every time."""
    spec = {name: ("value", value) for name, value in WELL_FORMED.items()}
    node = {"leaf": ("later", spec), "leaves": [], "maybe_leaf": ("later", spec), "children": None}
    node |= {"as_tuple": False}
    document = parse("{ node { leaf { n text } maybeLeaf { text } } }")
    theirs = await _run(StrawberryGraphQLCoreExecutionContext, document, node, True)
    assert theirs.data == {"node": {"leaf": {"n": 1, "text": "a"}, "maybeLeaf": {"text": "a"}}}
    plans = CompletionPlans(size=1, compile_after=1)
    for _ in range(3):
        ours = await _run(plans.executor_class, document, node, True)
        assert (ours.data, _errors(ours)) == (theirs.data, [])
