"""What a document may ask for at most: root fields, and a cost that knows list sizes.

The cost of a selection is one per field, for each object the field can be resolved on: a field
under ``pets(first: 50)`` counts 50 times. ``first`` given as a literal counts as written; as a
variable (unknown when the document is validated, and validated once for all variables) it counts as
the most a page can hold; left out, as the argument's default. Fragments are costed once each, so a
fragment spread a thousand times costs a thousand lookups, not a thousand walks.
"""

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)

# The argument that sizes a list, in this schema (connections, as Relay names it).
PAGE_SIZE_ARGUMENT = "first"


class _Coster:
    def __init__(self, context: ValidationContext, max_page_size: int) -> None:
        self._context = context
        self._max_page_size = max_page_size
        self._fragments: dict[str, int] = {}
        self._visiting: set[str] = set()

    def selection_set(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> int:
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._context.schema.get_type(condition.name.value) if condition else parent
                cost += self.selection_set(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                cost += self._fragment(selection.name.value)
        return cost

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        definition = _field_definition(parent, node.name.value)
        if node.selection_set is None or definition is None:
            return 1
        return 1 + self._multiplier(node, definition) * self.selection_set(
            node.selection_set, get_named_type(definition.type)
        )

    def _multiplier(self, node: FieldNode, definition: GraphQLField) -> int:
        argument = definition.args.get(PAGE_SIZE_ARGUMENT)
        if argument is None:
            return 1
        given = next(
            (arg.value for arg in node.arguments or () if arg.name.value == PAGE_SIZE_ARGUMENT), None
        )
        if isinstance(given, IntValueNode):
            return max(1, min(int(given.value), self._max_page_size))  # larger is refused by the resolver
        if isinstance(given, VariableNode) or not isinstance(argument.default_value, int):
            return self._max_page_size
        return max(1, argument.default_value)

    def _fragment(self, name: str) -> int:
        if name in self._fragments:
            return self._fragments[name]
        fragment = self._context.get_fragment(name)
        if fragment is None or name in self._visiting:  # unknown or cyclic: other rules report it
            return 0
        self._visiting.add(name)
        condition = self._context.schema.get_type(fragment.type_condition.name.value)
        cost = self.selection_set(fragment.selection_set, condition)
        self._visiting.discard(name)
        self._fragments[name] = cost
        return cost


def _field_definition(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if not isinstance(parent, GraphQLObjectType):
        return None
    field: GraphQLField | None = parent.fields.get(name)
    return field


def root_field_count(context: ValidationContext, operation: OperationDefinitionNode) -> int:
    """Root fields of ``operation``, counting those its top-level fragments bring."""
    pending, count, seen = [operation.selection_set], 0, set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment: FragmentDefinitionNode | None = context.get_fragment(selection.name.value)
                if fragment is not None:
                    pending.append(fragment.selection_set)
    return count


def operation_limits(*, max_root_fields: int, max_cost: int, max_page_size: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations with too many root fields or too high a cost."""

    class OperationLimits(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: object) -> None:
            name = f"Operation '{node.name.value}'" if node.name else "The operation"
            roots = root_field_count(self.context, node)
            if roots > max_root_fields:
                self.report_error(
                    GraphQLError(f"{name} has {roots} root fields; at most {max_root_fields}.", node)
                )
                return
            root_type = self.context.schema.get_root_type(node.operation)
            cost = _Coster(self.context, max_page_size).selection_set(node.selection_set, root_type)
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"{name} costs {cost}; at most {max_cost}. Ask for smaller pages (`first`) "
                        "or fewer fields.",
                        node,
                    )
                )

    return OperationLimits
