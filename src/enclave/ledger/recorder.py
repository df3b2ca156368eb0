"""The background writer: usage rows, audit entries and retained messages, in batches, off the request path.

Requests only append to in-memory lists (microseconds). A task flushes them every ``flush_seconds`` in one
transaction (usage rows, audit chain, retained messages together), from a worker thread. If the database is
unreachable the rows wait and are retried; past ``max_pending`` new requests are refused (503) rather than
served unaccounted. A clean shutdown (SIGTERM, Ctrl-C) flushes everything; a hard kill loses at most the rows
of the last ``flush_seconds`` (and whatever was still in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from enclave.audit.chain import AuditEntry, append
from enclave.audit.checkpoints import Checkpoints
from enclave.config import LedgerConfig
from enclave.ledger.records import Retained, UsageRecord
from enclave.store.db import now_us
from enclave.store.schema import audit_head, retained, usage

log = logging.getLogger(__name__)
PURGE_EVERY = 60.0


class Recorder:
    def __init__(self, engine: Engine, config: LedgerConfig, checkpoints: Checkpoints | None = None,
                 checkpoint_seconds: float = 60.0) -> None:
        self.engine = engine
        self._config = config
        self.checkpoints = checkpoints
        self._checkpoint_seconds = checkpoint_seconds
        self._lock = threading.Lock()
        self._usage: list[UsageRecord] = []
        self._audit: list[AuditEntry] = []
        self._retained: list[Retained] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_checkpoint = 0.0
        self._last_purge = 0.0
        self._unsigned = False

    @property
    def pending(self) -> int:
        return len(self._usage) + len(self._audit) + len(self._retained)

    @property
    def backlogged(self) -> bool:
        return self.pending >= self._config.max_pending

    def record(self, usage_row: UsageRecord | None = None, audit: AuditEntry | None = None,
               kept: Retained | None = None) -> None:
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
            await asyncio.to_thread(self.flush_once)

    def flush_once(self) -> bool:
        """Write up to one batch; False when the database refused it (the rows stay queued)."""
        with self._lock:
            n = self._config.batch
            rows, self._usage = self._usage[:n], self._usage[n:]
            entries, self._audit = self._audit[:n], self._audit[n:]
            kept, self._retained = self._retained[:n], self._retained[n:]
        try:
            if rows or entries or kept:
                with self.engine.begin() as connection:
                    if rows:
                        connection.execute(insert(usage), [r.row() for r in rows])
                    if entries:
                        seq, head = append(connection, entries)
                    if kept:
                        connection.execute(insert(retained), [dataclasses.asdict(k) for k in kept])
                if entries:
                    self._unsigned = True
                    self._maybe_checkpoint(seq, head)
            self._maybe_purge()
        except SQLAlchemyError as exc:
            log.error("could not write %d usage rows and %d audit entries (kept for retry): %s",
                      len(rows), len(entries), exc.__class__.__name__)
            with self._lock:
                self._usage[:0], self._audit[:0], self._retained[:0] = rows, entries, kept
            return False
        return True

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
            log.error("shutting down with %d usage/audit rows unwritten: the database stayed unreachable",
                      self.pending)
        await asyncio.to_thread(self._final_checkpoint)

    def _final_checkpoint(self) -> None:
        if self.checkpoints is None or not self._unsigned:
            return
        with self.engine.connect() as connection:
            seq, head = connection.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
        self._maybe_checkpoint(seq, head, force=True)
