"""Appending to the hash chain and verifying every link of it.

Each entry's hash covers its sequence number, its contents and the previous entry's hash, so an edited row no
longer matches its hash, a deleted row leaves a gap and a broken link, and a moved row breaks the links on both
sides. Each batch a writer appends is also *sealed*: the writer's Ed25519 signature over the entries it wrote
(first and last sequence number, last hash) sits on the batch's last row, so an entry added by someone without
the signing key (a forged entry at the end, or between two batches) is covered by no seal. What the database
alone cannot show (its last rows cut off, or the whole store rolled back) the signed checkpoints kept outside
it catch (see ``checkpoints`` and ``verify``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select, update

from enclave.audit.signing import PublicKey, SigningKey
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


def entry_hash(
    seq: int,
    at_us: int,
    actor: str,
    project: str | None,
    action: str,
    resource: str | None,
    outcome: str,
    details: str,
    prev_hash: str,
) -> str:
    payload = json.dumps(
        [seq, at_us, actor, project, action, resource, outcome, details, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def seal_message(first: int, last: int, digest: str) -> bytes:
    return f"enclave-audit-seal-v1|{first}|{last}|{digest}".encode()


def append(connection: Connection, entries: Iterable[AuditEntry], key: SigningKey | None) -> tuple[int, str]:
    """Append ``entries`` in the caller's transaction, sealed with ``key``; returns the new head (length, hash).

    The head row is updated first: that takes the database's write lock before the previous hash is read, so
    concurrent writers (threads or replicas) append one after another and never fork the chain. Without a key
    the entries are unsealed, and verification reports them as such.
    """
    batch = list(entries)
    connection.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq + len(batch)))
    seq, prev = connection.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
    if not batch:
        return seq, prev
    seq -= len(batch)
    first = seq + 1
    rows = []
    for entry in batch:
        seq += 1
        details = canonical(entry.details)
        digest = entry_hash(
            seq, entry.at_us, entry.actor, entry.project, entry.action, entry.resource, entry.outcome, details, prev
        )
        rows.append(
            {
                "seq": seq,
                "at_us": entry.at_us,
                "actor": entry.actor,
                "project": entry.project,
                "action": entry.action,
                "resource": entry.resource,
                "outcome": entry.outcome,
                "details": details,
                "prev_hash": prev,
                "hash": digest,
                "sealed_from": None,
                "seal": None,
            }
        )
        prev = digest
    if key is not None:
        rows[-1] |= {"sealed_from": first, "seal": key.sign(seal_message(first, seq, prev))}
    connection.execute(insert(audit_log), rows)
    connection.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=prev))
    return seq, prev


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    kind: str  # edited | missing | out_of_order | head | unsealed | checkpoint | key | rolled_back
    detail: str


@dataclass(slots=True)
class Verification:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)
    checkpoints: int = 0
    warnings: list[str] = field(default_factory=list)  # what the checks could not cover, said out loud
    last_checkpoint_us: int | None = None  # when the newest checkpoint was signed: a rollback shows as an old one

    @property
    def ok(self) -> bool:
        return not self.problems


class _Seals:
    """Which entries the seals met so far cover; every entry must be covered by exactly one valid seal."""

    def __init__(self, trusted: Sequence[PublicKey], problems: list[Problem]) -> None:
        self._trusted = trusted
        self._problems = problems
        self.covered = 0  # the last entry covered by a seal

    def see(self, seq: int, digest: str, first: int | None, seal: str | None) -> None:
        if seal is None or first is None:
            return
        if not any(key.verifies(seal_message(first, seq, digest), seal) for key in self._trusted):
            self._problems.append(
                Problem(
                    seq,
                    "unsealed",
                    f"entries {first}..{seq}: the seal does not verify "
                    "with a trusted key (forged, or signed by a replaced key)",
                )
            )
        elif first > self.covered + 1:
            self.unsealed(first - 1)
        elif first <= self.covered:
            self._problems.append(
                Problem(first, "unsealed", f"entries {first}..{seq}: sealed twice (a seal copied from elsewhere)")
            )
        self.covered = seq

    def unsealed(self, last: int) -> None:
        """Entries after the last seal up to ``last`` carry no seal: written without the key."""
        if last <= self.covered:
            return
        first = self.covered + 1
        hint = (
            " (written before audit seals: run `enclave audit migrate` once)"
            if first == 1
            else " (added by someone without the signing key)"
        )
        self._problems.append(Problem(first, "unsealed", f"entries {first}..{last} are not sealed{hint}"))
        self.covered = last


def walk(
    connection: Connection, wanted: set[int], trusted: Sequence[PublicKey] | None
) -> tuple[Verification, dict[int, str]]:
    """Recompute every link and check every seal (with any of ``trusted``; None: seals are not checked), in
    sequence order; returns the result and the hashes at the ``wanted`` positions.

    The head is read first: entries appended while the walk runs come after it and are checked like the rest.
    """
    head_seq, head_hash = connection.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    result = Verification()
    seals = _Seals(trusted or (), result.problems)
    at: dict[int, str] = {}
    prev, expected = GENESIS, 1
    rows = connection.execution_options(yield_per=2000).execute(select(audit_log).order_by(audit_log.c.seq))
    for row in rows:
        if row.seq != expected:
            gap = f"entries {expected}..{row.seq - 1}" if row.seq > expected + 1 else f"entry {expected}"
            result.problems.append(Problem(expected, "missing", f"{gap} missing (deleted)"))
        if row.prev_hash != prev:
            result.problems.append(
                Problem(
                    row.seq,
                    "out_of_order",
                    f"entry {row.seq} does not follow the entry before it "
                    "(an entry before it was deleted, inserted or moved)",
                )
            )
        recomputed = entry_hash(
            row.seq,
            row.at_us,
            row.actor,
            row.project,
            row.action,
            row.resource,
            row.outcome,
            row.details,
            row.prev_hash,
        )
        if recomputed != row.hash:
            result.problems.append(
                Problem(row.seq, "edited", f"entry {row.seq} does not match its hash (edited or moved)")
            )
        if trusted is not None:
            seals.see(row.seq, row.hash, row.sealed_from, row.seal)
        if row.seq in wanted or row.seq == head_seq:
            at[row.seq] = row.hash
        prev, expected = row.hash, row.seq + 1
        result.entries += 1
    result.head_seq, result.head_hash = expected - 1, prev
    if trusted is not None:
        seals.unsealed(result.head_seq)
    if result.head_seq < head_seq or (head_seq > 0 and at.get(head_seq) != head_hash):
        result.problems.append(
            Problem(
                result.head_seq,
                "head",
                f"the log ends at entry {result.head_seq} but its head says {head_seq} "
                "(entries at the end deleted, or the head edited)",
            )
        )
    return result, at
