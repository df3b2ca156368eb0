"""Bounds on every value a client sends that enclave keeps, labels or looks up: checked once, at the edge.

A value out of bounds is a 400 naming the field, before it reaches the pipeline: it can never become a row the
database refuses (a name longer than its column, a NUL character), a metric label, or a lookup that fails as
a 503. Wire types use the ``Annotated`` types; headers and path parameters the functions.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query, Request
from pydantic import Field, StringConstraints, TypeAdapter, ValidationError

from enclave.access.specs import PROJECT_NAME
from enclave.errors import InvalidRequest

MODEL_NAME_LENGTH = 128  # the ledger's model column; configured names and aliases are far shorter
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # no NUL, no control characters: nothing a log line or a database chokes on
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
RESOURCE_LENGTH = 256  # the audit log's resource column

ModelName = Annotated[str, StringConstraints(min_length=1, max_length=MODEL_NAME_LENGTH, pattern=_PRINTABLE)]
# OpenAI's own limits on ``metadata``: 16 pairs, keys up to 64 characters, values up to 512.
Metadata = Annotated[
    dict[
        Annotated[str, StringConstraints(max_length=64, pattern=_PRINTABLE)],
        Annotated[str, StringConstraints(max_length=512)],
    ],
    Field(max_length=16),
]
EndUser = Annotated[str, StringConstraints(max_length=256, pattern=_PRINTABLE)]
KeyPrefix = Annotated[str, Path(pattern=r"^enc_[0-9a-f]{8}$", description="a key's prefix, enc_ and 8 hex digits")]
ProjectPath = Annotated[str, Path(min_length=1, max_length=64, pattern=PROJECT_NAME)]
ProjectQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=PROJECT_NAME)]
QueryText = Annotated[str | None, Query(max_length=64, pattern=_PRINTABLE)]

_PROJECT = TypeAdapter(Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PROJECT_NAME)])


def project_name(value: str | None, param: str) -> str | None:
    """A project named by the client (a header or ``metadata.project``), or a 400 naming where it came from."""
    if value is None:
        return None
    try:
        return _PROJECT.validate_python(value)
    except ValidationError:
        raise InvalidRequest(
            f"{param}: a project name is 1 to 64 letters, digits, '.', '_' or '-'", param=param
        ) from None


def audit_resource(request: Request) -> str:
    """``METHOD /path`` for the audit log: control characters replaced and clipped to the column, because the
    path is the client's (and arrives percent-decoded, NUL included)."""
    text = _CONTROL.sub("\ufffd", f"{request.method} {request.url.path}")
    return text if len(text) <= RESOURCE_LENGTH else text[: RESOURCE_LENGTH - 1] + "…"
