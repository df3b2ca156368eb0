"""The schema walk and the validator on their own (no model): what is rewritten, what is refused, what validates.

Schemas as applications send them: Pydantic's discriminated unions, draft-04's boolean bounds, decimal
``multipleOf``, reference cycles, objects that leave additional properties open.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from enclave.engines.structured.grammar import check_compiles
from enclave.engines.structured.schema import SchemaChecker
from enclave.engines.structured.validation import SchemaValidator
from enclave.errors import InvalidRequest


class Card(BaseModel):
    method: Literal["card"]
    last4: str


class Bank(BaseModel):
    method: Literal["bank"]
    iban: str


class Order(BaseModel):
    id: int
    payment: Annotated[Card | Bank, Field(discriminator="method")]


def checked(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as llguidance gets it, compiled to be sure llguidance takes it."""
    out = SchemaChecker("response_format").check(schema)
    check_compiles(out, "response_format")
    return out


def refusal(schema: dict[str, Any]) -> str:
    with pytest.raises(InvalidRequest) as refused:
        checked(schema)
    assert refused.value.param == "response_format"
    assert refused.value.status == 400
    return refused.value.message


def test_a_decimal_multiple_of_validates_as_the_decimal_it_is() -> None:
    validator = SchemaValidator({"type": "number", "multipleOf": 0.01}, "response_format")
    assert validator.problem(19.99) is None
    assert validator.problem(0.3) is None
    assert validator.problem(7) is None
    assert validator.problem(19.995) == "$: 19.995 is not a multiple of 0.01"
    assert SchemaValidator({"type": "integer", "multipleOf": 5}, "x").problem(12) is not None
    assert SchemaValidator({"type": "number", "multipleOf": 0.01}, "x").problem(1e300) is None


def test_a_decimal_range_of_few_multiples_is_their_enum() -> None:
    assert checked({"type": "number", "multipleOf": 0.01, "minimum": 19.99, "maximum": 19.99}) == {
        "type": "number",
        "enum": [19.99],
    }
    assert checked({"type": "integer", "multipleOf": 0.5, "exclusiveMinimum": 1, "maximum": 3})["enum"] == [2, 3]


def test_a_wide_decimal_range_is_moved_half_a_step_out() -> None:
    out = checked({"type": "number", "multipleOf": 0.01, "minimum": 0, "exclusiveMaximum": 100})
    assert out == {"type": "number", "multipleOf": 0.01, "minimum": -0.005, "maximum": 99.995}


def test_a_decimal_range_without_a_multiple_is_refused() -> None:
    message = refusal({"type": "number", "multipleOf": 0.1, "minimum": 0.01, "maximum": 0.09})
    assert message.startswith("$.multipleOf: no multiple of 0.1")


def test_a_pydantic_discriminated_union_is_enforced_as_any_of() -> None:
    schema = Order.model_json_schema()
    out = checked(schema)
    payment = out["properties"]["payment"]
    assert "oneOf" not in payment
    assert payment["anyOf"] == [{"$ref": "#/$defs/Card"}, {"$ref": "#/$defs/Bank"}]


def test_one_of_with_distinct_types_is_enforced() -> None:
    out = checked({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]})
    assert len(out["anyOf"]) == 3


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]},
        {"oneOf": [{"type": "number"}, {"type": "integer"}]},
        {"oneOf": [{"type": "object", "properties": {"a": {"const": 1}}}, {"type": "object"}]},
    ],
)
def test_one_of_that_may_match_twice_is_refused_at_its_path(schema: dict[str, Any]) -> None:
    assert refusal({"type": "object", "properties": {"x": schema}}).startswith("$.properties.x.oneOf:")


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"$ref": "#"}, "$.$ref"),
        ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "$.$defs.b.$ref"),
        ({"$defs": {"x": {"anyOf": [{"$ref": "#/$defs/x"}, {"type": "null"}]}}, "$ref": "#/$defs/x"}, "$.$defs.x"),
        (
            {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/x"}},
                "$defs": {"x": {"$ref": "#/$defs/y"}, "y": {"$ref": "#/$defs/x"}},
            },
            "$.$defs.y.$ref",
        ),
    ],
)
def test_a_reference_cycle_without_a_value_in_between_is_refused(schema: dict[str, Any], path: str) -> None:
    message = refusal(schema)
    assert message.startswith(path), message
    assert "$ref" in message.split(":")[0]


def test_recursion_through_properties_and_items_is_accepted() -> None:
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                    "parent": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]},
                },
                "required": ["name"],
            }
        },
        "$ref": "#/$defs/node",
    }
    checked(tree)


def test_an_object_listing_its_properties_is_closed_in_the_grammar_only() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert checked(schema)["additionalProperties"] is False
    # The answer is still validated against the schema as sent.
    assert SchemaValidator(schema, "response_format").problem({"a": 1, "b": 2}) is None


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object"},
        {"type": "object", "properties": {"a": {}}, "additionalProperties": {"type": "integer"}},
        {"type": "object", "properties": {"a": {}}, "patternProperties": {"^x": {}}},
        {"type": "object", "properties": {"a": {}}, "required": ["a", "b"]},
    ],
)
def test_objects_that_say_otherwise_stay_as_written(schema: dict[str, Any]) -> None:
    assert checked(schema).get("additionalProperties") == schema.get("additionalProperties")


def test_all_of_parts_stay_open_so_that_their_properties_combine() -> None:
    schema = {
        "$defs": {
            "Named": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            "Aged": {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]},
        },
        "allOf": [{"$ref": "#/$defs/Named"}, {"$ref": "#/$defs/Aged"}],
    }
    out = checked(schema)
    assert "additionalProperties" not in out["$defs"]["Named"]
    assert "additionalProperties" not in out["$defs"]["Aged"]


def test_draft_04_boolean_bounds_are_enforced_as_draft_04_means_them() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {
            "amount": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            "share": {"type": "number", "maximum": 1, "exclusiveMaximum": False},
        },
        "required": ["amount"],
    }
    out = checked(schema)
    assert out["properties"]["amount"] == {"type": "number", "exclusiveMinimum": 0}
    assert out["properties"]["share"] == {"type": "number", "maximum": 1}
    validator = SchemaValidator(schema, "response_format")
    assert validator.problem({"amount": 0}) is not None
    assert validator.problem({"amount": 0.5}) is None


def test_a_boolean_bound_outside_draft_04_says_which_draft_it_belongs_to() -> None:
    message = refusal({"type": "number", "minimum": 0, "exclusiveMinimum": True})
    assert message.startswith("$.exclusiveMinimum:")
    assert "draft-04" in message
