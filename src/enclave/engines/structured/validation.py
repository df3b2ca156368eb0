"""The last check before a constrained answer leaves the engine: jsonschema against the schema the client sent.

The grammar already makes an invalid answer impossible; this check is what lets enclave *claim* validity
instead of assuming it. Formats are checked for the same syntax the grammar enforces (RFC 3339 dates and
times, ...): jsonschema skips several formats without optional packages, and its calendar check of dates is
stricter than any grammar (February 29 of any year is syntax the grammar allows). ``multipleOf`` is checked
on the decimal numbers the JSON text wrote, not on their binary floats, which say 19.99 is no multiple of 0.01.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for

from enclave.errors import InvalidRequest

_TIME = r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([zZ]|[+-]([01]\d|2[0-3]):[0-5]\d)"
_DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SYNTAX = {
    "date": re.compile(_DATE),
    "time": re.compile(_TIME),
    "date-time": re.compile(f"{_DATE}[tT]{_TIME}"),
    "duration": re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?"),
    "hostname": re.compile(rf"{_LABEL}(\.{_LABEL})*"),
    "uri": re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S*"),
}


def _format_checker() -> FormatChecker:
    checker = FormatChecker(["email", "ipv4", "ipv6", "uuid"])  # jsonschema's own, which need no extra package
    for name, pattern in _SYNTAX.items():
        checker.checks(name)(lambda value, p=pattern: not isinstance(value, str) or p.fullmatch(value) is not None)
    return checker


FORMATS = _format_checker()


def _multiple_of(validator: Validator, divisor: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "number") or not isinstance(divisor, int | float):
        return
    try:
        failed = Decimal(repr(instance)) % Decimal(repr(divisor)) != 0
    except InvalidOperation:  # the quotient has more digits than decimal's precision: as a float, then
        quotient = instance / divisor
        failed = quotient != quotient or abs(quotient) == float("inf") or int(quotient) != quotient
    if failed:
        yield ValidationError(f"{instance!r} is not a multiple of {divisor!r}")


@functools.cache
def _decimal_multiples(cls: type[Validator]) -> type[Validator]:
    return extend(cls, {"multipleOf": _multiple_of})


class SchemaValidator:
    """A compiled jsonschema validator for one schema; ``problem`` describes the first violation, if any."""

    def __init__(self, schema: dict[str, Any], param: str) -> None:
        cls = validator_for(schema, default=Draft202012Validator)
        try:
            cls.check_schema(schema)
        except SchemaError as exc:
            where = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
            raise InvalidRequest(f"{where}: not a valid JSON Schema: {exc.message}", param=param) from exc
        self._validator = _decimal_multiples(cls)(schema, format_checker=FORMATS)

    def problem(self, instance: object) -> str | None:
        error = jsonschema.exceptions.best_match(self._validator.iter_errors(instance))
        if error is None:
            return None
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        return f"{where}: {error.message}"
