"""Which JSON Schemas the engine can enforce: a walk that refuses, by path and keyword, what it cannot.

llguidance compiles a schema into a grammar but, like every such converter, ignores keywords it does not know
(a typo such as ``minLenght`` would silently weaken the schema). This walk accepts a closed list of keywords,
each either enforced by the grammar or a pure annotation, refuses everything else with a 400 that names the
path (``$.properties.tags.uniqueItems``), and returns the schema with its annotations removed: llguidance sees
only what it must enforce. Size limits keep a schema from turning into a grammar too large to compile or
to compute masks from in time; they are stated in docs/api.md.

Three rewrites make the grammar's language a subset of the schema's, never a superset: an object that lists
its properties and says nothing of others is closed (a small model otherwise invents keys until
``max_tokens``; the answer still validates against the schema as sent), a ``oneOf`` whose branches provably
exclude each other becomes the ``anyOf`` it is equal to, and draft-04's boolean ``exclusiveMinimum`` /
``exclusiveMaximum`` become the numbers later drafts use.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, NoReturn

from enclave.engines.structured.exclusive import discriminated, distinct_types
from enclave.errors import InvalidRequest

MAX_SCHEMA_BYTES = 65_536
MAX_DEPTH = 32  # nested subschemas along one path ($ref is not followed, so recursion is fine)
MAX_PROPERTIES = 1_000  # over the whole schema
MAX_ENUM_VALUES = 1_000  # enum and const values over the whole schema
MAX_LENGTH_BOUND = 10_000  # minLength / maxLength: each bound is a counted repetition in the lexer
MAX_ITEMS_BOUND = 100  # minItems / maxItems: each bound unrolls into grammar rules
MAX_PATTERN_LENGTH = 1_000

# Keywords that only describe: accepted and dropped before compiling. "discriminator" is OpenAPI's hint beside
# a Pydantic discriminated union's oneOf; the oneOf itself carries the constraint.
ANNOTATIONS = frozenset(
    {
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "discriminator",
    }
)  # fmt: skip
ENFORCED = frozenset(
    {
        "type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions",
        "properties", "required", "additionalProperties", "patternProperties", "minProperties", "maxProperties",
        "items", "prefixItems", "minItems", "maxItems",
        "minLength", "maxLength", "pattern", "format",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    }
)  # fmt: skip
# Real JSON Schema keywords the grammar cannot express: named as such in the refusal.
NOT_ENFORCEABLE = frozenset(
    {
        "not", "if", "then", "else", "dependentRequired", "dependentSchemas", "dependencies",
        "unevaluatedProperties", "unevaluatedItems", "contains", "minContains", "maxContains", "uniqueItems",
        "propertyNames", "additionalItems", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
        "$anchor", "$vocabulary", "contentEncoding", "contentMediaType", "contentSchema", "nullable",
    }
)  # fmt: skip
FORMATS = frozenset({"date-time", "date", "time", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri"})
TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})
# A decimal multipleOf's range holding fewer multiples than this is enforced as their enum (see _decimal_range).
_FEW_MULTIPLES = 64
# Drafts whose exclusiveMinimum/exclusiveMaximum are booleans modifying minimum/maximum.
BOOLEAN_EXCLUSIVE_DRAFTS = ("http://json-schema.org/draft-03/schema", "http://json-schema.org/draft-04/schema")
# Keywords whose subschemas apply to the same value as their parent: a $ref cycle through them alone never
# reaches a value (the grammar would recurse before writing a character).
SAME_VALUE = ("anyOf", "oneOf", "allOf")

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def _key(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}[{json.dumps(key)}]"


@dataclass(slots=True)
class _Budget:
    properties: int = 0
    enum_values: int = 0


class SchemaChecker:
    """Checks one schema (a ``response_format`` or a tool's ``parameters``) and strips its annotations.

    ``param`` is the request field errors name; every message starts with the schema path.
    """

    def __init__(self, param: str) -> None:
        self._param = param
        self._budget = _Budget()
        self._root: dict[str, Any] = {}
        self.parts: list[tuple[str, dict[str, Any]]] = []  # each checked subschema and its path, innermost first

    def check(self, schema: object) -> dict[str, Any]:
        if not isinstance(schema, dict):
            self._refuse("$", "the schema must be a JSON object")
        size = len(json.dumps(schema, ensure_ascii=False).encode())
        if size > MAX_SCHEMA_BYTES:
            self._refuse("$", f"the schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES}")
        self._root = schema
        self._boolean_exclusive = str(schema.get("$schema", "")).rstrip("#").startswith(BOOLEAN_EXCLUSIVE_DRAFTS)
        self._open = _open_by_intent(schema, self._resolve)
        checked = self._walk(schema, "$", 0)
        self._refuse_empty_cycles(schema)
        return checked  # type: ignore[return-value]

    def _refuse(self, path: str, reason: str) -> NoReturn:
        raise InvalidRequest(f"{path}: {reason}", param=self._param)

    def _walk(self, node: object, path: str, depth: int) -> object:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            self._refuse(path, "a schema must be an object or a boolean")
        if depth > MAX_DEPTH:
            self._refuse(path, f"the schema nests deeper than {MAX_DEPTH} levels")
        out: dict[str, Any] = {}
        for key, value in node.items():
            where = _key(path, key)
            if key in ANNOTATIONS or (key.startswith("x-") and key != "x-guidance"):
                continue
            if key in NOT_ENFORCEABLE:
                self._refuse(where, f"the keyword '{key}' cannot be enforced by constrained decoding")
            if key not in ENFORCED:
                self._refuse(where, f"'{key}' is not a JSON Schema keyword the engine enforces")
            if key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
                continue  # draft-04's form, rewritten below
            out[key] = self._keyword(key, value, where, depth)
        for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(node.get(key), bool):
                self._boolean_bound(node, key, bound, _key(path, key), out)
        self._contradictions(out, path)
        if isinstance(out.get("multipleOf"), float) and not out["multipleOf"].is_integer():
            self._decimal_range(out, path)
        if "oneOf" in out:
            self._exclusive(node["oneOf"], _key(path, "oneOf"))
            out["anyOf"] = out.pop("oneOf")
        if (
            "properties" in out
            and "additionalProperties" not in out
            and "patternProperties" not in out
            and id(node) not in self._open
            and set(out.get("required", ())) <= set(out["properties"])
        ):
            out["additionalProperties"] = False
        self.parts.append((path, out))
        return out

    def _contradictions(self, out: dict[str, Any], path: str) -> None:
        """Refuse bounds no value can meet, by their path (llguidance would name only the whole schema)."""
        for low, high in (("minLength", "maxLength"), ("minItems", "maxItems"), ("minProperties", "maxProperties")):
            if out.get(low, 0) > out.get(high, out.get(low, 0)):
                self._refuse(_key(path, low), f"'{low}' of {out[low]} is above '{high}' of {out[high]}")
        lows = [(out[k], k) for k in ("minimum", "exclusiveMinimum") if k in out]
        highs = [(out[k], k) for k in ("maximum", "exclusiveMaximum") if k in out]
        for low, low_key in lows:
            for high, high_key in highs:
                if low > high or (low == high and "exclusive" in low_key + high_key):
                    self._refuse(_key(path, low_key), f"no number lies between '{low_key}' and '{high_key}'")
        if out.get("additionalProperties") is False and "patternProperties" not in out:
            for name in out.get("required", ()):
                if name not in out.get("properties", {}):
                    self._refuse(
                        _key(path, "required"),
                        f"{json.dumps(name)} is required but not among the properties, and no others are allowed",
                    )

    def _boolean_bound(self, node: dict[str, Any], key: str, bound: str, where: str, out: dict[str, Any]) -> None:
        """Draft-04's ``"exclusiveMinimum": true`` beside ``minimum``, written as later drafts write it."""
        if not self._boolean_exclusive:
            self._refuse(
                where,
                f"'{key}' must be a number (a boolean is draft-04's form: say so with "
                '"$schema": "http://json-schema.org/draft-04/schema#")',
            )
        if node[key] and bound in out:
            out[key] = out.pop(bound)

    def _decimal_range(self, out: dict[str, Any], path: str) -> None:
        """Bounds beside a decimal ``multipleOf``, rewritten so that llguidance finds the multiples they allow.

        llguidance finds them with binary floats, in which 19.99 / 0.01 is 1998.9999999999998: for it the range
        [19.99, 19.99] held no multiple of 0.01, and a range holding a few failed while generating. A range of
        a few multiples becomes their ``enum``; a wider one is moved half a step out (no multiple comes in).
        """
        step = Decimal(repr(out["multipleOf"]))
        first = last = None
        if (low := _decimal_bound(out, "minimum", "exclusiveMinimum")) is not None:
            first = (low[0] / step).to_integral_value(ROUND_CEILING) * step
            first += step if low[1] and first == low[0] else 0
        if (high := _decimal_bound(out, "maximum", "exclusiveMaximum")) is not None:
            last = (high[0] / step).to_integral_value(ROUND_FLOOR) * step
            last -= step if high[1] and last == high[0] else 0
        if first is not None and last is not None and first > last:
            self._refuse(_key(path, "multipleOf"), f"no multiple of {out['multipleOf']} lies between the bounds")
        for keyword in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            out.pop(keyword, None)
        if first is not None and last is not None and (last - first) / step < _FEW_MULTIPLES:
            integers = out.get("type") == "integer"
            values = [first + i * step for i in range(int((last - first) / step) + 1)]
            out["enum"] = [int(v) if integers else float(v) for v in values if not integers or v == int(v)]
            if not out["enum"]:
                self._refuse(
                    _key(path, "multipleOf"), f"no integer multiple of {out['multipleOf']} lies between the bounds"
                )
            del out["multipleOf"]
            self._budget.enum_values += len(out["enum"])
            return
        if first is not None:
            out["minimum"] = float(first - step / 2)
        if last is not None:
            out["maximum"] = float(last + step / 2)

    def _exclusive(self, branches: list[Any], where: str) -> None:
        """Refuse a ``oneOf`` unless no value can match two of its branches (then it equals ``anyOf``).

        Provably exclusive here: branches of distinct types (integer counted as a number), or objects that each
        require one same property with a constant value of their own (a discriminated union, as Pydantic writes
        it). Anything else would need the grammar to count matching branches, which it cannot.
        """
        resolved = [self._resolve(b["$ref"]) if isinstance(b, dict) and "$ref" in b else b for b in branches]
        if len(resolved) == 1 or distinct_types(resolved) or discriminated(resolved):
            return
        self._refuse(
            where,
            "'oneOf' is enforced only when its branches exclude each other (distinct types, or a required "
            "property with a distinct const in each branch, as in a discriminated union); use 'anyOf'",
        )

    def _keyword(self, key: str, value: Any, where: str, depth: int) -> Any:
        if key in ("properties", "patternProperties", "$defs", "definitions"):
            if not isinstance(value, dict):
                self._refuse(where, f"'{key}' must be an object")
            if key == "properties":
                self._budget.properties += len(value)
                if self._budget.properties > MAX_PROPERTIES:
                    self._refuse(where, f"the schema has more than {MAX_PROPERTIES} properties")
            if key == "patternProperties":
                for pattern in value:
                    self._pattern(pattern, _key(where, pattern))
            return {name: self._walk(sub, _key(where, name), depth + 1) for name, sub in value.items()}
        if key in ("additionalProperties", "items"):
            if isinstance(value, list):
                self._refuse(where, f"'{key}' as an array is not supported; use prefixItems")
            return self._walk(value, where, depth + 1)
        if key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            if not isinstance(value, list) or not value:
                self._refuse(where, f"'{key}' must be a non-empty array")
            return [self._walk(sub, f"{where}[{i}]", depth + 1) for i, sub in enumerate(value)]
        if key in ("enum", "const"):
            count = len(value) if key == "enum" and isinstance(value, list) else 1
            if key == "enum" and (not isinstance(value, list) or not value):
                self._refuse(where, "'enum' must be a non-empty array")
            self._budget.enum_values += count
            if self._budget.enum_values > MAX_ENUM_VALUES:
                self._refuse(where, f"the schema has more than {MAX_ENUM_VALUES} enum and const values")
            return value
        if key == "type":
            names = value if isinstance(value, list) else [value]
            if not names or any(name not in TYPES for name in names):
                self._refuse(where, f"unknown type {json.dumps(value)}")
            return value
        if key == "required":
            if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
                self._refuse(where, "'required' must be an array of property names")
            return value
        if key == "$ref":
            self._ref(value, where)
            return value
        if key == "pattern":
            self._pattern(value, where)
            return value
        if key == "format":
            if value not in FORMATS:
                self._refuse(
                    where,
                    f"the format {json.dumps(value)} cannot be enforced; supported: " + ", ".join(sorted(FORMATS)),
                )
            return value
        return self._bound(key, value, where)

    def _bound(self, key: str, value: Any, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self._refuse(where, f"'{key}' must be a finite number")
        if key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
            limit = MAX_LENGTH_BOUND if key.endswith("Length") else MAX_ITEMS_BOUND
            if value < 0 or value != int(value):
                self._refuse(where, f"'{key}' must be a non-negative integer")
            if value > limit:
                self._refuse(where, f"'{key}' of {value} is above the limit of {limit} a grammar can carry")
        if key == "multipleOf" and value <= 0:
            self._refuse(where, "'multipleOf' must be greater than 0")
        return value

    def _pattern(self, pattern: object, where: str) -> None:
        if not isinstance(pattern, str):
            self._refuse(where, "a pattern must be a string")
        if len(pattern) > MAX_PATTERN_LENGTH:
            self._refuse(where, f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
        try:
            re.compile(pattern)
        except re.error as exc:
            self._refuse(where, f"the pattern is not a valid regular expression ({exc})")

    def _ref(self, ref: object, where: str) -> None:
        if not isinstance(ref, str) or not ref.startswith("#"):
            self._refuse(where, "only local references ('#/$defs/...') are supported")
        if _pointer(self._root, ref) is _MISSING:
            self._refuse(where, f"the reference {json.dumps(ref)} points to nothing in this schema")

    def _resolve(self, ref: object) -> Any:
        """What a (checked) local reference points to; None where it points nowhere."""
        target = _pointer(self._root, ref) if isinstance(ref, str) else _MISSING
        return None if target is _MISSING else target

    def _refuse_empty_cycles(self, schema: dict[str, Any]) -> None:
        """Refuse a ``$ref`` that comes back to where it started through ``$ref``, ``anyOf``, ``oneOf`` and
        ``allOf`` alone: no property or item in between, so no finite JSON value matches it (``{"$ref": "#"}``)."""
        done: set[int] = set()

        def visit(node: object, path: str, via: str, on_path: set[int]) -> None:
            if not isinstance(node, dict) or id(node) in done:
                return
            if id(node) in on_path:
                self._refuse(via, "the reference leads back to itself without an object or array in between")
            on_path.add(id(node))
            if isinstance(node.get("$ref"), str):
                visit(self._resolve(node["$ref"]), _ref_path(node["$ref"]), _key(path, "$ref"), on_path)
            for keyword in SAME_VALUE:
                for i, sub in enumerate(node.get(keyword) or ()):
                    where = f"{_key(path, keyword)}[{i}]"
                    visit(sub, where, where, on_path)
            on_path.discard(id(node))
            done.add(id(node))

        for node, path in _subschemas(schema, "$"):
            visit(node, path, path, set())


_MISSING = object()


def _names(ref: str) -> list[str]:
    """The names a local JSON pointer (``#/$defs/Item``) walks through, unescaped."""
    parts = ref[1:].lstrip("/").split("/") if ref not in ("#", "#/") else []
    return [part.replace("~1", "/").replace("~0", "~") for part in parts]


def _pointer(root: Any, ref: str) -> Any:
    """The value a local JSON pointer (``#/$defs/Item``) names in ``root``, or ``_MISSING``."""
    target = root
    for name in _names(ref):
        if isinstance(target, dict) and name in target:
            target = target[name]
        elif isinstance(target, list) and name.isdigit() and int(name) < len(target):
            target = target[int(name)]
        else:
            return _MISSING
    return target


def _ref_path(ref: str) -> str:
    """A local reference written as a schema path: ``#/$defs/Item`` is ``$.$defs.Item``."""
    path = "$"
    for name in _names(ref):
        path = f"{path}[{name}]" if name.isdigit() else _key(path, name)
    return path


def _subschemas(node: object, path: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every subschema of a (checked) schema with its path, the schema first."""
    if not isinstance(node, dict):
        return
    yield node, path
    for key, value in node.items():
        where = _key(path, key)
        if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
            for name, sub in value.items():
                yield from _subschemas(sub, _key(where, name))
        elif key in ("additionalProperties", "items"):
            yield from _subschemas(value, where)
        elif key in (*SAME_VALUE, "prefixItems") and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from _subschemas(sub, f"{where}[{i}]")


def _open_by_intent(schema: dict[str, Any], resolve: Callable[[object], Any]) -> set[int]:
    """The objects that must stay open: each part of an ``allOf`` adds properties the others' objects hold."""
    open_: set[int] = set()

    def keep(node: object) -> None:
        if not isinstance(node, dict) or id(node) in open_:
            return
        open_.add(id(node))
        if "$ref" in node:
            keep(resolve(node["$ref"]))
        for keyword in SAME_VALUE:
            subschemas = node.get(keyword)
            for sub in subschemas if isinstance(subschemas, list) else ():
                keep(sub)

    for node, _ in _subschemas(schema, "$"):
        if "allOf" in node:
            keep(node)
    return open_


def _decimal_bound(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[Decimal, bool] | None:
    """The tighter of a lower (or upper) bound pair as a decimal, and whether it is exclusive."""
    bounds = [(Decimal(repr(schema[k])), k == exclusive) for k in (inclusive, exclusive) if k in schema]
    if not bounds:
        return None
    tighter = max if inclusive == "minimum" else min
    return tighter(bounds, key=lambda bound: (bound[0], bound[1] if inclusive == "minimum" else not bound[1]))
