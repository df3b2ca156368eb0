"""Signed checkpoints: the chain's length and head hash, HMAC-signed, appended to a file outside the database.

Someone who can rewrite the database (delete the last entries, or recompute the whole chain) cannot produce a
checkpoint signature without the key, so ``verify`` catches a cut tail or a rewritten chain back to the last
checkpoint. Keep the file on storage the database's writers cannot rewrite (another host, WORM, chattr +a).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from enclave.audit.chain import Problem, Verification, walk
from enclave.config import Settings
from enclave.store.db import now_us


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at_us: int
    mac: str


def checkpoint_path(settings: Settings) -> Path:
    return settings.audit.checkpoint_file or settings.data_dir / "audit-checkpoints.jsonl"


def signing_key(settings: Settings) -> bytes:
    """The HMAC key: from the configured environment variable, else a random one kept in the data folder."""
    if value := os.environ.get(settings.audit.signing_key_env):
        return value.encode()
    path = settings.data_dir / "audit.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _mac(key: bytes, seq: int, digest: str, at_us: int) -> str:
    return hmac.new(key, f"{seq}:{digest}:{at_us}".encode(), hashlib.sha256).hexdigest()


class Checkpoints:
    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key

    def write(self, seq: int, digest: str) -> None:
        at = now_us()
        line = json.dumps({"seq": seq, "hash": digest, "at_us": at, "mac": _mac(self._key, seq, digest, at)})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())

    def read(self) -> tuple[list[Checkpoint], list[Problem]]:
        if not self.path.exists():
            return [], []
        found: list[Checkpoint] = []
        problems: list[Problem] = []
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines()
        if lines and not text.endswith("\n"):
            lines.pop()  # a line still being written by the server: it is checked next time
        for number, line in enumerate(lines, 1):
            try:
                raw = json.loads(line)
                point = Checkpoint(int(raw["seq"]), str(raw["hash"]), int(raw["at_us"]), str(raw["mac"]))
            except (ValueError, KeyError, TypeError):
                problems.append(Problem(0, "checkpoint", f"{self.path}:{number}: not a checkpoint"))
                continue
            if not hmac.compare_digest(point.mac, _mac(self._key, point.seq, point.hash, point.at_us)):
                problems.append(Problem(point.seq, "checkpoint", f"{self.path}:{number}: signature does not match"))
                continue
            found.append(point)
        return found, problems

    def verify(self, engine: Engine) -> Verification:
        """Every link of the chain, then every signed checkpoint against it, in one consistent snapshot (the
        server keeps appending meanwhile: rows and head must be read as of the same moment)."""
        points, problems = self.read()
        options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
        with engine.connect().execution_options(**options) as connection:
            result, hashes = walk(connection, {p.seq for p in points})
        result.problems.extend(problems)
        result.checkpoints = len(points)
        for point in points:
            if point.seq > result.head_seq:
                result.problems.append(Problem(
                    result.head_seq, "checkpoint",
                    f"a checkpoint signed the log at {point.seq} entries; it now ends at {result.head_seq} "
                    "(entries at the end deleted)"))
            elif point.seq > 0 and hashes.get(point.seq) != point.hash:
                result.problems.append(Problem(
                    point.seq, "checkpoint",
                    f"entry {point.seq} differs from the one a checkpoint signed (the chain was rewritten)"))
        return result
