"""When a ``oneOf`` equals its ``anyOf``: proofs that no JSON value can match two of its branches.

Only proofs this cheap are tried: branches of distinct types (integer counted as a number), and objects that
each require one same property with a constant value of their own, as a Pydantic discriminated union does.
"""

from __future__ import annotations

import json
from typing import Any


def _types(schema: object) -> set[str] | None:
    if not isinstance(schema, dict):
        return None
    if "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        return {_json_type(v) for v in values} if isinstance(values, list) else None
    named = schema.get("type")
    if named is None:
        return None
    return set(named) if isinstance(named, list) else {named}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "string"


def distinct_types(branches: list[Any]) -> bool:
    seen: set[str] = set()
    for branch in branches:
        types = _types(branch)
        if types is None:
            return False
        if "number" in types:
            types = types | {"integer"}
        if types & seen:
            return False
        seen |= types
    return True


def discriminated(branches: list[Any]) -> bool:
    """One property required by every branch, with a const (or one-value enum) that differs between them."""
    if not all(isinstance(b, dict) and isinstance(b.get("properties"), dict) for b in branches):
        return False
    candidates = set.intersection(*(set(b.get("required") or ()) for b in branches))
    for name in sorted(candidates):
        values = []
        for branch in branches:
            prop = branch["properties"].get(name)
            if isinstance(prop, dict) and "const" in prop:
                values.append(json.dumps(prop["const"], sort_keys=True))
            elif isinstance(prop, dict) and isinstance(prop.get("enum"), list) and len(prop["enum"]) == 1:
                values.append(json.dumps(prop["enum"][0], sort_keys=True))
            else:
                break
        else:
            if len(set(values)) == len(values):
                return True
    return False
