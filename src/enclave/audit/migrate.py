"""Moving a log written before Ed25519 seals (HMAC checkpoints, no seals) to sealed entries, once.

The entries from the first one up to the first sealed batch are checked (every link, and every old HMAC
checkpoint when the old key is still there), then sealed in one seal by the current key, and the migration is
itself an audit entry. Unsealed entries *after* a sealed batch are never sealed here: nothing legitimate writes
them, so they stay reported.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, update

from enclave.audit.chain import AuditEntry, append, seal_message, walk
from enclave.audit.checkpoints import Checkpoints
from enclave.audit.signing import PREFIX
from enclave.config import Settings
from enclave.errors import InvalidRequest
from enclave.store.schema import audit_log


@dataclass(frozen=True, slots=True)
class Migration:
    sealed: int  # entries sealed (0: nothing to do)
    legacy_checked: int  # old HMAC checkpoints checked against the chain
    legacy_unchecked: int  # old HMAC checkpoints there was no key for


def legacy_hmac_key(settings: Settings) -> bytes | None:
    """The HMAC key of earlier versions: the environment variable when it holds no Ed25519 key, else the
    ``audit.key`` file in the data folder."""
    value = os.environ.get(settings.audit.signing_key_env)
    if value and not value.startswith((PREFIX, "-----BEGIN")):
        return value.encode()
    path = settings.data_dir / "audit.key"
    return path.read_text().strip().encode() if path.exists() else None


def _legacy_mac(key: bytes, seq: int, digest: str, at_us: int) -> str:
    return hmac.new(key, f"{seq}:{digest}:{at_us}".encode(), hashlib.sha256).hexdigest()


def migrate_log(engine: Engine, checkpoints: Checkpoints, legacy_key: bytes | None, actor: str) -> Migration:
    """Seal the unsealed entries at the start of the log; InvalidRequest, changing nothing, when the chain or an
    old checkpoint shows tampering."""
    assert checkpoints.key is not None
    legacy = [raw for place in checkpoints.read() for raw in place.legacy]
    with engine.connect() as connection:
        first_seal = connection.execute(select(func.min(audit_log.c.sealed_from))).scalar()
        before_seals = {int(first_seal) - 1} if first_seal is not None else set()
        result, hashes = walk(connection, {int(raw["seq"]) for raw in legacy} | before_seals, None)
    end = result.head_seq if first_seal is None else int(first_seal) - 1
    if result.problems:
        raise InvalidRequest(f"the log is damaged, nothing was sealed: {result.problems[0].detail}")
    checked = 0
    for raw in legacy:
        seq, digest, at_us = int(raw["seq"]), str(raw["hash"]), int(raw["at_us"])
        if legacy_key is None:
            continue
        if not hmac.compare_digest(str(raw["mac"]), _legacy_mac(legacy_key, seq, digest, at_us)):
            raise InvalidRequest(f"an old checkpoint (entry {seq}) has a wrong HMAC signature: nothing was sealed")
        if seq > result.head_seq:
            raise InvalidRequest(
                f"an old checkpoint signed {seq} entries, the log has {result.head_seq} (entries "
                "at the end deleted): nothing was sealed"
            )
        if seq > 0 and hashes.get(seq) != digest:
            raise InvalidRequest(f"entry {seq} differs from the one an old checkpoint signed: nothing was sealed")
        checked += 1
    unchecked = 0 if legacy_key is not None else len(legacy)
    if end < 1:
        return Migration(0, checked, unchecked)
    with engine.begin() as connection:
        # The last legacy entry must be the one just checked, and still unsealed (no one migrated meanwhile).
        row = connection.execute(select(audit_log.c.hash, audit_log.c.seal).where(audit_log.c.seq == end)).one()
        if row.seal is not None or row.hash != hashes.get(end):
            raise InvalidRequest("the log changed while it was checked; run the migration again")
        seal = checkpoints.key.sign(seal_message(1, end, row.hash))
        connection.execute(update(audit_log).where(audit_log.c.seq == end).values(sealed_from=1, seal=seal))
        head = append(
            connection,
            [
                AuditEntry(
                    actor, "audit.migrate", "ok", details={"sealed": [1, end], "legacy_checkpoints_checked": checked}
                )
            ],
            checkpoints.key,
        )
    checkpoints.write(*head)
    return Migration(end, checked, unchecked)
