"""The background writer: usage rows, audit entries and retained messages, in batches, off the request path.

Requests only append to in-memory lists (microseconds). A task flushes them every ``flush_seconds`` in one
transaction (usage rows, audit chain, retained messages together), from a worker thread. If the database is
unreachable the rows wait and are retried; past ``max_pending`` new requests are refused (503) rather than
served unaccounted. If it refuses a row for what the row holds, the batch is written in halves until that row
stands alone, and it is set aside as a dead letter (see ``dead_letters``): one bad row never blocks the others.
A clean shutdown (SIGTERM, Ctrl-C) flushes everything; a hard kill loses at most the rows of the last
``flush_seconds`` (and whatever was still in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from enclave.audit.chain import AuditEntry, append
from enclave.audit.checkpoints import Checkpoints
from enclave.config import LedgerConfig
from enclave.ledger.dead_letters import DeadLetter, Row, reason, unreachable
from enclave.ledger.records import Retained, UsageRecord
from enclave.ledger.rollup import add_to_daily
from enclave.store.db import migrate_if_dropped, now_us
from enclave.store.schema import audit_head, dead_letters, retained, usage

log = logging.getLogger(__name__)
PURGE_EVERY = 60.0
SET_ASIDE = "ledger.set_aside"  # the audit entry that marks where a row was set aside
_TABLES = {UsageRecord: usage, Retained: retained, DeadLetter: dead_letters}
Item = Row | DeadLetter


def _values(item: Item) -> dict[str, Any]:
    return dataclasses.asdict(item) if isinstance(item, Retained | AuditEntry) else item.row()


class Recorder:
    def __init__(
        self,
        engine: Engine,
        config: LedgerConfig,
        checkpoints: Checkpoints | None = None,
        checkpoint_seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        self._config = config
        self.checkpoints = checkpoints
        self._checkpoint_seconds = checkpoint_seconds
        self._lock = threading.Lock()
        self._usage: list[UsageRecord] = []
        self._audit: list[AuditEntry] = []
        self._retained: list[Retained] = []
        self._dead: list[DeadLetter] = []
        self.set_aside: Counter[str] = Counter()  # rows set aside since start, by kind (for /metrics)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_checkpoint = 0.0
        self._last_purge = 0.0
        self._unsigned = False
        self._head: tuple[int, str] | None = None  # the chain's head after the last commit, until checkpointed

    @property
    def pending(self) -> int:
        return len(self._usage) + len(self._audit) + len(self._retained) + len(self._dead)

    @property
    def backlogged(self) -> bool:
        return self.pending >= self._config.max_pending

    def record(
        self, usage_row: UsageRecord | None = None, audit: AuditEntry | None = None, kept: Retained | None = None
    ) -> None:
        with self._lock:
            if usage_row is not None:
                self._usage.append(usage_row)
            if audit is not None:
                self._audit.append(audit)
            if kept is not None:
                self._retained.append(kept)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.flush_seconds)
            self._wake.clear()
            try:
                await asyncio.to_thread(self.flush_once)
            except Exception:
                # Whatever went wrong after the rows were written (a checkpoint file, say), the writer goes on.
                log.exception("the ledger writer failed; it tries again at the next interval")

    def flush_once(self) -> bool:
        """Write up to one batch; False when the database could not take it (the rows stay queued). A row the
        database refuses for what it holds is set aside as a dead letter, and the others are written."""
        with self._lock:
            n = self._config.batch
            rows, self._usage = self._usage[:n], self._usage[n:]
            entries, self._audit = self._audit[:n], self._audit[n:]
            kept, self._retained = self._retained[:n], self._retained[n:]
            dead, self._dead = self._dead[:n], self._dead[n:]
        groups: list[Sequence[Item]] = [g for g in (rows, entries, kept, dead) if g]
        written = True
        try:
            if groups:
                self._commit(groups)
        except Exception as exc:
            if unreachable(exc):
                log.error(
                    "could not write %d usage rows and %d audit entries (kept for retry): %s",
                    len(rows),
                    len(entries),
                    exc.__class__.__name__,
                )
                self._requeue(groups)
                migrate_if_dropped(self.engine)  # a database dropped and created again: written next time
                return False
            written = self._write_apart(groups)
        if self._head is not None:
            # Outside the writing above: a checkpoint that fails must not send committed rows round again.
            head, self._head, self._unsigned = self._head, None, True
            self._maybe_checkpoint(*head)
        if not written:
            return False
        try:
            self._maybe_purge()
        except SQLAlchemyError as exc:
            log.error("could not purge expired retained prompts (tried again later): %s", exc.__class__.__name__)
        return True

    def _commit(self, groups: Sequence[Sequence[Item]]) -> None:
        """One transaction for every group (each of one kind); the chain's new head is kept for the checkpoint."""
        head: tuple[int, str] | None = None
        with self.engine.begin() as connection:
            for group in groups:
                head = self._insert(connection, group) or head
        self._head = head or self._head

    def _insert(self, connection: Connection, group: Sequence[Item]) -> tuple[int, str] | None:
        entries = [item for item in group if isinstance(item, AuditEntry)]
        if entries:
            return append(connection, entries, self.checkpoints.key if self.checkpoints else None)
        connection.execute(insert(_TABLES[type(group[0])]), [_values(item) for item in group])
        records = [item for item in group if isinstance(item, UsageRecord)]
        if records:
            add_to_daily(connection, records)
        return None

    def _write_apart(self, groups: list[Sequence[Item]]) -> bool:
        """After a refusal for content: each kind on its own, in halves down to the refused rows, which are
        set aside. False when the database went away meanwhile (what was not written is queued again)."""
        letters: list[DeadLetter] = []
        left: list[Sequence[Item]] = []
        for group in groups:
            rest = group if left else self._bisect(group, letters)
            if rest:
                left.append(rest)
        if letters and not left:
            # Dead letters are ASCII with bounded fields; one refused even so is logged and dropped.
            rest = self._bisect(letters, [])
            if rest:
                left.append(rest)
        elif letters:
            left.append(letters)
        self._requeue(left)
        return not left

    def _bisect(self, items: Sequence[Item], letters: list[DeadLetter]) -> Sequence[Item]:
        """Write ``items`` in ever smaller groups until each refused one stands alone and is set aside (into
        ``letters``); returns, in order, what was left unwritten because the database went away meanwhile."""
        stack = [items]
        while stack:
            group = stack.pop()
            try:
                self._commit([group])
            except Exception as exc:
                if unreachable(exc):
                    return [item for g in (group, *reversed(stack)) for item in g]
                if len(group) > 1:
                    half = len(group) // 2
                    stack += [group[half:], group[:half]]  # the first half is written first: order is kept
                else:
                    self._set_aside(group[0], exc, letters)
        return []

    def _set_aside(self, item: Item, exc: Exception, letters: list[DeadLetter]) -> None:
        if isinstance(item, DeadLetter):
            log.error("dropped a dead letter the database refused too (%s): %s", reason(exc), item.payload[:2000])
            return
        letter = DeadLetter.of(item, exc)
        letters.append(letter)
        self.set_aside[letter.kind] += 1
        log.error(
            "set aside a %s row the database refuses (%s); the rows after it are written", letter.kind, letter.error
        )
        if not (isinstance(item, AuditEntry) and item.action == SET_ASIDE):
            # The audit log shows where something was set aside, so a reader knows to look in the dead letters.
            self.record(
                audit=AuditEntry(
                    "ledger",
                    SET_ASIDE,
                    "error",
                    resource=letter.kind,
                    details={"at_us": letter.at_us, "error": letter.error},
                )
            )

    def _requeue(self, groups: Sequence[Sequence[Item]]) -> None:
        """Put unwritten rows back at the front of their queues, in their order."""
        with self._lock:
            for group in groups:
                queues: dict[type, list[Any]] = {
                    UsageRecord: self._usage,
                    AuditEntry: self._audit,
                    Retained: self._retained,
                    DeadLetter: self._dead,
                }
                queues[type(group[0])][:0] = group

    def _maybe_checkpoint(self, seq: int, head: str, force: bool = False) -> None:
        now = time.monotonic()
        if self.checkpoints is None or not self._unsigned:
            return
        if force or now - self._last_checkpoint >= self._checkpoint_seconds:
            self.checkpoints.write(seq, head)
            self._last_checkpoint = now
            self._unsigned = False

    def _maybe_purge(self) -> None:
        """Prompts and answers past their project's retention are deleted, not just hidden."""
        now = time.monotonic()
        if now - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = now
        with self.engine.begin() as connection:
            gone = connection.execute(delete(retained).where(retained.c.expires_us <= now_us())).rowcount
        if gone:
            log.info("purged %d retained prompts past their retention", gone)

    async def close(self) -> None:
        """Stop the loop and write everything still queued (a clean shutdown loses nothing)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        deadline = time.monotonic() + 30
        while self.pending and time.monotonic() < deadline:
            if not await asyncio.to_thread(self.flush_once):
                await asyncio.sleep(1)
        if self.pending:
            log.error("shutting down with %d usage/audit rows unwritten: the database stayed unreachable", self.pending)
        await asyncio.to_thread(self._final_checkpoint)

    def _final_checkpoint(self) -> None:
        if self.checkpoints is None or not self._unsigned:
            return
        with self.engine.connect() as connection:
            seq, head = connection.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
        self._maybe_checkpoint(seq, head, force=True)
