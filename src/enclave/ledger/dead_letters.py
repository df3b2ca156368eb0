"""Rows the database refuses for what they hold, set aside so they never block the rows behind them.

The background writer tells two kinds of failure apart. When the database cannot take any row now (connection
lost, locked, a table missing, permissions), every row waits and is retried: nothing is lost, and past
``ledger.max_pending`` requests are refused. When it refuses a row for its content (a value too long for its
column, a NUL character, a number out of range, a duplicate key, text that is not Unicode), the same row would be
refused forever: it is set aside here, with the database's reason, and the rest are written.

A dead letter stores its row as ASCII JSON (every other character escaped, strings clipped), so any database
takes it whatever the row held. A retained prompt and answer are not kept in it: only their metadata, so a
prompt never outlives its project's retention here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from enclave.audit.chain import AuditEntry
from enclave.ledger.records import Retained, UsageRecord
from enclave.store.db import now_us
from enclave.store.schema import dead_letters

Row = UsageRecord | AuditEntry | Retained
ERROR_LENGTH = 512  # the error column's width
_VALUE_LENGTH = 256  # longest string kept per field of a set-aside row; the rest is counted, not kept
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def unreachable(exc: BaseException) -> bool:
    """True when the database could not take any row just now, so the rows must wait; False when it refused
    what a row holds (or the row's values could not even be sent), so that row alone must be set aside."""
    if isinstance(exc, DataError | IntegrityError):
        return False
    # Every other driver error (operational, interface, programming, internal) is about the connection, the
    # schema or the server, never one row; values that cannot be bound raise plain Python errors instead.
    return isinstance(exc, DBAPIError | DisconnectionError | PoolTimeout | OSError)


def kind_of(row: Row) -> str:
    return {UsageRecord: "usage", AuditEntry: "audit", Retained: "retained"}[type(row)]


def reason(exc: BaseException) -> str:
    """The database's reason, one printable line: the driver's own message (never the statement, whose
    parameters are quoted in SQLAlchemy's text), else the Python error's."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = f"{type(cause).__name__}: {cause}"
    text = _CONTROL.sub(" ", text.encode("ascii", "backslashreplace").decode("ascii")).strip()
    return text[: ERROR_LENGTH - 1] + "…" if len(text) > ERROR_LENGTH else text


def _clipped(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _VALUE_LENGTH:
        return f"{value[:_VALUE_LENGTH]}…(+{len(value) - _VALUE_LENGTH} characters)"
    if isinstance(value, dict):
        return {str(k)[:_VALUE_LENGTH]: _clipped(v) for k, v in value.items()}
    return value


def _fields(row: Row) -> dict[str, Any]:
    fields = dataclasses.asdict(row)
    if isinstance(row, Retained):
        # Metadata only: the prompt and answer are not kept beyond their retention, nor outside their table.
        fields["prompt"] = f"({len(row.prompt)} characters, not kept)"
        fields["answer"] = f"({len(row.answer)} characters, not kept)"
    return {name: _clipped(value) for name, value in fields.items()}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    kind: str  # usage | audit | retained
    error: str
    payload: str  # the row's fields as ASCII JSON
    at_us: int = dataclasses.field(default_factory=now_us)

    @classmethod
    def of(cls, row: Row, exc: BaseException) -> DeadLetter:
        # ensure_ascii escapes NUL, control characters and lone surrogates alike: the payload is plain ASCII.
        payload = json.dumps(_fields(row), ensure_ascii=True, sort_keys=True, default=str)
        return cls(kind_of(row), reason(exc), payload)

    def row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def list_dead_letters(engine: Engine, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Set-aside rows after id ``after``, oldest first, each with its row as a dict."""
    query = select(dead_letters).where(dead_letters.c.id > after).order_by(dead_letters.c.id).limit(limit)
    with engine.connect() as connection:
        return [{**row, "payload": json.loads(row["payload"])} for row in connection.execute(query).mappings()]
