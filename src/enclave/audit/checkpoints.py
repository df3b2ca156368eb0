"""Signed checkpoints: the chain's length and head hash, Ed25519-signed, appended to files outside the database.

Someone who can rewrite the database (cut its last entries, or roll it back to a backup) cannot produce a
checkpoint signature without the private key, so ``verify`` catches a cut tail or a rolled-back store up to the
last checkpoint. Each checkpoint goes to every configured place (``audit.checkpoint_file`` and the optional
``audit.checkpoint_mirror``, ideally on other storage: another host, WORM, ``chattr +a``) and carries a counter
that grows by one per checkpoint, so a file cut short, a deleted line or a place rolled back with the database is
seen against the other place. Writers lock the first place while they count and append, so processes sharing the
files (the server and the CLI) never reuse a number.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclave.audit.chain import Problem
from enclave.audit.signing import PublicKey, SigningKey
from enclave.config import Settings
from enclave.store.db import now_us

log = logging.getLogger(__name__)
_TAIL_BYTES = 8192  # enough for the last few lines, where the counter to continue from is


@dataclass(frozen=True, slots=True)
class Checkpoint:
    n: int  # 1, 2, 3, ... in every place
    seq: int
    hash: str
    at_us: int
    key: str  # the signer's public key, ``ed25519:...``
    sig: str

    def message(self) -> bytes:
        return f"enclave-audit-checkpoint-v1|{self.n}|{self.seq}|{self.hash}|{self.at_us}|{self.key}".encode()

    def line(self) -> str:
        return json.dumps(
            {"n": self.n, "seq": self.seq, "hash": self.hash, "at_us": self.at_us, "key": self.key, "sig": self.sig}
        )


@dataclass(slots=True)
class Place:
    """One checkpoint file as read: its checkpoints in file order and what could not be read."""

    path: Path
    exists: bool
    points: list[Checkpoint] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # HMAC checkpoints written before Ed25519 signing, as read: only ``enclave audit migrate`` checks them.
    legacy: list[dict[str, Any]] = field(default_factory=list)


def checkpoint_places(settings: Settings) -> list[Path]:
    primary = settings.audit.checkpoint_file or settings.data_dir / "audit-checkpoints.jsonl"
    mirror = settings.audit.checkpoint_mirror
    return [primary] if mirror is None else [primary, mirror]


def _last_counter(path: Path) -> int:
    try:
        with path.open("rb") as source:
            size = source.seek(0, os.SEEK_END)
            source.seek(max(0, size - _TAIL_BYTES))
            tail = source.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return 0
    for line in reversed(tail.splitlines()):
        try:
            return int(json.loads(line)["n"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as out:  # append mode: every write lands at the end, whatever was read before
        size = out.seek(0, os.SEEK_END)
        torn = False
        if size:
            out.seek(size - 1)
            torn = out.read(1) != b"\n"
        # A line cut off by a crash stays on a line of its own (verify reports it) instead of swallowing this one.
        out.write((("\n" if torn else "") + line + "\n").encode())
        out.flush()
        os.fsync(out.fileno())


def read_place(path: Path) -> Place:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Place(path, exists=False)
    place = Place(path, exists=True)
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines.pop()  # a line still being written: it is checked next time
    for number, line in enumerate(lines, 1):
        try:
            raw = json.loads(line)
            if "mac" in raw and "sig" not in raw:
                place.legacy.append(raw)
                continue
            point = Checkpoint(
                int(raw["n"]), int(raw["seq"]), str(raw["hash"]), int(raw["at_us"]), str(raw["key"]), str(raw["sig"])
            )
        except (ValueError, KeyError, TypeError):
            place.problems.append(
                Problem(0, "checkpoint", f"{path}:{number}: not a checkpoint (edited, or a write cut off by a crash)")
            )
            continue
        place.points.append(point)
    return place


class Checkpoints:
    """The checkpoint places, the key that signs new checkpoints (None: verification only) and the public keys
    pinned in the configuration (empty: not pinned)."""

    def __init__(self, places: Sequence[Path], key: SigningKey | None = None, pinned: Sequence[PublicKey] = ()) -> None:
        assert places, "checkpoints need at least one place"
        self.places = list(places)
        self.key = key
        self.pinned = tuple(pinned)
        self._written = 0  # the last counter this process wrote: a place that falls below it was rolled back

    def write(self, seq: int, digest: str) -> Checkpoint | None:
        """Sign the head (``seq``, ``digest``) and append it to every place. A place that cannot be written is
        logged, not raised: the writer goes on, and verification shows the place lagging behind."""
        if self.key is None:
            raise RuntimeError("these checkpoints were opened for verification only")
        primary = self.places[0]
        try:
            primary.parent.mkdir(parents=True, exist_ok=True)
            lock = primary.open("a")
        except OSError as exc:
            log.error("cannot write audit checkpoints to %s: %s", primary, exc.strerror)
            return None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = {path: _last_counter(path) for path in self.places}
            for path, last in found.items():
                if last < self._written:
                    log.error(
                        "audit checkpoints in %s end at %d, but this process wrote %d: the file was cut "
                        "short or rolled back; the next checkpoint keeps the gap visible",
                        path,
                        last,
                        self._written,
                    )
            # Counting on from the highest number seen, here or in any place, leaves a rolled-back place a gap.
            n = self._written = max(self._written, *found.values()) + 1
            at = now_us()
            unsigned = Checkpoint(n, seq, digest, at, self.key.public.text, "")
            point = Checkpoint(n, seq, digest, at, unsigned.key, self.key.sign(unsigned.message()))
            for path in self.places:
                try:
                    _append(path, point.line())
                except OSError as exc:
                    log.error("cannot write audit checkpoint %d to %s: %s", n, path, exc.strerror)
        return point

    def read(self) -> list[Place]:
        """Every place, in configuration order; read last to first, the reverse of the order ``write`` appends
        in, so no place read can be ahead of the first one (see ``verify``)."""
        return list(reversed([read_place(path) for path in reversed(self.places)]))
