"""The daily roll-up: each batch of usage rows is summed per (day, project, model, target, zone) and added to
``usage_daily`` in the same transaction as the rows themselves, so the roll-up and the rows never disagree (a
batch refused is refused whole, roll-up included)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from enclave.ledger.records import UsageRecord
from enclave.store.schema import usage_daily

Key = tuple[str, str, str, str, str]
_SUMS = ("requests", "prompt_tokens", "completion_tokens", "busy_seconds", "cost")


def _key(record: UsageRecord) -> Key:
    return (record.day, record.project or "", record.model, record.target or "", record.zone or "")


def add_to_daily(connection: Connection, records: Sequence[UsageRecord]) -> None:
    """Add ``records`` (being written in this transaction) to their days' sums."""
    sums: dict[Key, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0.0])
    for record in records:
        s = sums[_key(record)]
        s[0] += 1
        s[1] += record.prompt_tokens
        s[2] += record.completion_tokens
        s[3] += record.compute_seconds or 0.0
        s[4] += record.cost
    rows = [
        {"day": k[0], "project": k[1], "model": k[2], "target": k[3], "zone": k[4], **dict(zip(_SUMS, s, strict=True))}
        for k, s in sorted(sums.items())  # one order for every writer: replicas' upserts never deadlock
    ]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(usage_daily)
    statement = statement.on_conflict_do_update(
        index_elements=[c for c in usage_daily.primary_key.columns],
        set_={name: usage_daily.c[name] + statement.excluded[name] for name in _SUMS},
    )
    connection.execute(statement, rows)
