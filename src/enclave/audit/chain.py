"""Appending to the hash chain and verifying every link of it.

Each entry's hash covers its sequence number, its contents and the previous entry's hash, so an edited row no
longer matches its hash, a deleted row leaves a gap and a broken link, and a moved row breaks the links on both
sides. What a chain alone cannot show (its last rows cut off, or the whole chain rewritten) the signed
checkpoints catch (see ``checkpoints``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select, update

from enclave.store.db import now_us
from enclave.store.schema import audit_head, audit_log

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, to what, with what outcome. ``details`` never holds prompts, answers or secrets."""

    actor: str
    action: str
    outcome: str
    project: str | None = None
    resource: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at_us: int = field(default_factory=now_us)


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(seq: int, at_us: int, actor: str, project: str | None, action: str, resource: str | None,
               outcome: str, details: str, prev_hash: str) -> str:
    payload = json.dumps([seq, at_us, actor, project, action, resource, outcome, details, prev_hash],
                         separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def append(connection: Connection, entries: Iterable[AuditEntry]) -> tuple[int, str]:
    """Append ``entries`` in the caller's transaction; returns the new head (length, hash).

    The head row is updated first: that takes the database's write lock before the previous hash is read, so
    concurrent writers (threads or replicas) append one after another and never fork the chain.
    """
    batch = list(entries)
    connection.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq + len(batch)))
    seq, prev = connection.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
    if not batch:
        return seq, prev
    seq -= len(batch)
    rows = []
    for entry in batch:
        seq += 1
        details = canonical(entry.details)
        digest = entry_hash(seq, entry.at_us, entry.actor, entry.project, entry.action, entry.resource,
                            entry.outcome, details, prev)
        rows.append({"seq": seq, "at_us": entry.at_us, "actor": entry.actor, "project": entry.project,
                     "action": entry.action, "resource": entry.resource, "outcome": entry.outcome,
                     "details": details, "prev_hash": prev, "hash": digest})
        prev = digest
    connection.execute(insert(audit_log), rows)
    connection.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=prev))
    return seq, prev


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    kind: str  # edited | missing | out_of_order | head | checkpoint
    detail: str


@dataclass(slots=True)
class Verification:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)
    checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def walk(connection: Connection, wanted: set[int]) -> tuple[Verification, dict[int, str]]:
    """Recompute every link, in sequence order; returns the result and the hashes at the ``wanted`` positions.

    The head is read first: entries appended while the walk runs come after it and are checked like the rest.
    """
    head_seq, head_hash = connection.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    result = Verification()
    at: dict[int, str] = {}
    prev, expected = GENESIS, 1
    rows = connection.execution_options(yield_per=2000).execute(select(audit_log).order_by(audit_log.c.seq))
    for row in rows:
        if row.seq != expected:
            gap = f"entries {expected}..{row.seq - 1}" if row.seq > expected + 1 else f"entry {expected}"
            result.problems.append(Problem(expected, "missing", f"{gap} missing (deleted)"))
        if row.prev_hash != prev:
            result.problems.append(Problem(row.seq, "out_of_order",
                                           f"entry {row.seq} does not follow the entry before it "
                                           "(an entry before it was deleted, inserted or moved)"))
        recomputed = entry_hash(row.seq, row.at_us, row.actor, row.project, row.action, row.resource,
                                row.outcome, row.details, row.prev_hash)
        if recomputed != row.hash:
            result.problems.append(Problem(row.seq, "edited",
                                           f"entry {row.seq} does not match its hash (edited or moved)"))
        if row.seq in wanted or row.seq == head_seq:
            at[row.seq] = row.hash
        prev, expected = row.hash, row.seq + 1
        result.entries += 1
    result.head_seq, result.head_hash = expected - 1, prev
    if result.head_seq < head_seq or (head_seq > 0 and at.get(head_seq) != head_hash):
        result.problems.append(Problem(result.head_seq, "head",
                                       f"the log ends at entry {result.head_seq} but its head says {head_seq} "
                                       "(entries at the end deleted, or the head edited)"))
    return result, at
