"""Which JSON Schemas the engine can enforce: a walk that refuses, by path and keyword, what it cannot.

llguidance compiles a schema into a grammar but, like every such converter, ignores keywords it does not know
(a typo such as ``minLenght`` would silently weaken the schema). This walk accepts a closed list of keywords,
each either enforced by the grammar or a pure annotation, refuses everything else with a 400 that names the
path (``$.properties.tags.uniqueItems``), and returns the schema with its annotations removed: llguidance sees
only what it must enforce. Size limits keep a schema from turning into a grammar too large to compile or
to compute masks from in time; they are stated in docs/api.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NoReturn

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

    def check(self, schema: object) -> dict[str, Any]:
        if not isinstance(schema, dict):
            self._refuse("$", "the schema must be a JSON object")
        size = len(json.dumps(schema, ensure_ascii=False).encode())
        if size > MAX_SCHEMA_BYTES:
            self._refuse("$", f"the schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES}")
        self._root = schema
        return self._walk(schema, "$", 0)  # type: ignore[return-value]

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
            out[key] = self._keyword(key, value, where, depth)
        return out

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
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._refuse(where, f"'{key}' must be a number")
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
        target: Any = self._root
        for part in ref[1:].lstrip("/").split("/") if ref != "#" else ():
            name = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and name in target:
                target = target[name]
            elif isinstance(target, list) and name.isdigit() and int(name) < len(target):
                target = target[int(name)]
            else:
                self._refuse(where, f"the reference {json.dumps(ref)} points to nothing in this schema")
