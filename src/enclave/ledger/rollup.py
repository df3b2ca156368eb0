"""The daily roll-ups: each batch of usage rows is summed per (day, project, model, target, zone) into
``usage_daily`` and per (day, key, project, zone) into ``usage_daily_keys``, in the same transaction as the rows
themselves, so the roll-ups and the rows never disagree (a batch refused is refused whole, roll-ups included)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from enclave.ledger.records import UsageRecord
from enclave.store.schema import usage_daily, usage_daily_keys

_SUMS = ("requests", "prompt_tokens", "completion_tokens", "busy_seconds", "cost", "errors")


def _by_target(record: UsageRecord) -> tuple[str, ...]:
    return (record.day, record.project or "", record.model, record.target or "", record.zone or "")


def _by_key(record: UsageRecord) -> tuple[str, ...]:
    return (record.day, record.key_prefix or "", record.project or "", record.zone or "")


def _add(
    connection: Connection, table: Table, key: Callable[[UsageRecord], tuple[str, ...]], records: Sequence[UsageRecord]
) -> None:
    sums: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0.0, 0])
    for record in records:
        s = sums[key(record)]
        s[0] += 1
        s[1] += record.prompt_tokens
        s[2] += record.completion_tokens
        s[3] += record.compute_seconds or 0.0
        s[4] += record.cost
        s[5] += record.status != "ok"
    names = [c.name for c in table.primary_key.columns]
    rows = [
        {**dict(zip(names, k, strict=True)), **dict(zip(_SUMS, s, strict=True))}
        for k, s in sorted(sums.items())  # one order for every writer: replicas' upserts never deadlock
    ]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: table.c[name] + statement.excluded[name] for name in _SUMS},
    )
    connection.execute(statement, rows)


def add_to_daily(connection: Connection, records: Sequence[UsageRecord]) -> None:
    """Add ``records`` (being written in this transaction) to their days' sums."""
    _add(connection, usage_daily, _by_target, records)
    _add(connection, usage_daily_keys, _by_key, records)
