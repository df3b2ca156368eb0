"""Tampering with the audit log, as each kind of attacker would, on SQLite and PostgreSQL: every case the
signatures, the pinned key and the second checkpoint place are there to catch is caught, and what cannot be
caught without an outside record is said (see docs/access.md, "Threat model")."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from enclave.audit.chain import GENESIS, AuditEntry, Verification, append, entry_hash
from enclave.audit.checkpoints import Checkpoints
from enclave.audit.migrate import migrate_log
from enclave.audit.signing import SigningKey, generate
from enclave.audit.verify import KnownHead, verify_log
from enclave.store.db import open_engine
from enclave.store.schema import audit_head, audit_log
from tests.servers import enclave


@dataclass
class Log:
    """A log written by its legitimate writer: sealed batches, each followed by a checkpoint in two places."""

    engine: Engine
    key: SigningKey
    places: list[Path]

    def __post_init__(self) -> None:
        self.writer = Checkpoints(self.places, self.key, pinned=(self.key.public,))  # one running server

    def batch(self, n: int, actor: str = "enc_app00001") -> tuple[int, str]:
        with self.engine.begin() as connection:
            head = append(connection, [AuditEntry(actor, "inference", "ok", "claims", "m") for _ in range(n)], self.key)
        self.writer.write(*head)
        return head

    def verify(self, *, pinned: bool = True, places: list[Path] | None = None, **options: object) -> Verification:
        checkpoints = Checkpoints(places or self.places, pinned=(self.key.public,) if pinned else ())
        return verify_log(self.engine, checkpoints, **options)  # type: ignore[arg-type]


@pytest.fixture
def log(store_url: str, tmp_path: Path) -> Log:  # type: ignore[misc]
    key = generate(tmp_path / "keys" / "audit-signing.key")
    places = [tmp_path / "data" / "audit-checkpoints.jsonl", tmp_path / "worm" / "audit-checkpoints.jsonl"]
    written = Log(open_engine(store_url), key, places)
    for size in (3, 1, 4):
        written.batch(size)
    assert written.verify().ok
    yield written
    written.engine.dispose()


def _kinds(result: Verification) -> set[str]:
    return {p.kind for p in result.problems}


def _forge_entry(engine: Engine, actor: str = "enc_intruder") -> int:
    """What a database writer can do: a well-linked entry with the right hash, the head moved on to it."""
    with engine.begin() as connection:
        seq, prev = connection.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
        seq += 1
        digest = entry_hash(seq, 1, actor, None, "key.create", None, "ok", "{}", prev)
        connection.execute(
            insert(audit_log).values(
                seq=seq,
                at_us=1,
                actor=actor,
                project=None,
                action="key.create",
                resource=None,
                outcome="ok",
                details="{}",
                prev_hash=prev,
                hash=digest,
            )
        )
        connection.execute(update(audit_head).values(seq=seq, hash=digest))
    return seq


def test_forged_entry_after_the_last_checkpoint_is_unsealed(log: Log) -> None:
    forged = _forge_entry(log.engine)
    result = log.verify()
    assert [(p.seq, p.kind) for p in result.problems] == [(forged, "unsealed")], result.problems
    assert "without the signing key" in result.problems[0].detail


def test_forged_entry_under_a_later_legitimate_batch_is_unsealed(log: Log) -> None:
    # The server appends on top of the forged entry and signs a checkpoint over it: its seal still does not
    # cover an entry it did not write.
    forged = _forge_entry(log.engine)
    log.batch(2)
    assert [(p.seq, p.kind) for p in log.verify().problems] == [(forged, "unsealed")]


def test_seal_copied_onto_a_forged_entry_does_not_verify(log: Log) -> None:
    forged = _forge_entry(log.engine)
    with log.engine.begin() as connection:
        sealed = connection.execute(
            select(audit_log.c.sealed_from, audit_log.c.seal).where(audit_log.c.seal.is_not(None))
        ).first()
        connection.execute(
            update(audit_log).where(audit_log.c.seq == forged).values(sealed_from=sealed.sealed_from, seal=sealed.seal)
        )
    assert "unsealed" in _kinds(log.verify())


def _rewrite_with(log: Log, key: SigningKey, places: list[Path]) -> None:
    """What someone holding the database and a checkpoint place does with a key of their own: the whole chain
    rewritten (entry 2's actor changed), every seal and checkpoint in ``places`` signed again."""
    with log.engine.begin() as connection:
        rows = connection.execute(select(audit_log).order_by(audit_log.c.seq)).all()
        connection.execute(delete(audit_log))
        connection.execute(update(audit_head).values(seq=0, hash=GENESIS))
        entries = [
            AuditEntry(
                "enc_someone" if r.seq == 2 else r.actor,
                r.action,
                r.outcome,
                r.project,
                r.resource,
                json.loads(r.details),
                r.at_us,
            )
            for r in rows
        ]
        head = append(connection, entries, key)
    for path in places:
        path.unlink()
    Checkpoints(places, key).write(*head)


def test_rewritten_chain_signed_with_a_swapped_key_fails_against_the_pinned_key(log: Log, tmp_path: Path) -> None:
    swapped = tmp_path / "keys" / "audit-signing.key"
    swapped.unlink()
    _rewrite_with(log, generate(swapped), log.places)  # both places rewritten too
    result = log.verify()
    assert {"unsealed", "key"} <= _kinds(result) and not result.ok


def test_swapped_key_without_a_pin_is_caught_by_the_place_out_of_reach(log: Log, tmp_path: Path) -> None:
    _rewrite_with(log, generate(tmp_path / "attacker.key"), log.places[:1])  # the WORM mirror is out of reach
    result = log.verify(pinned=False)
    assert "key" in _kinds(result) and "different keys" in " ".join(p.detail for p in result.problems)


def test_swapped_key_everywhere_without_a_pin_is_beyond_reach_and_said(log: Log, tmp_path: Path) -> None:
    _rewrite_with(log, generate(tmp_path / "attacker.key"), log.places)
    result = log.verify(pinned=False)
    # Documented limit: with no pin and every place rewritten, nothing outside the attacker's reach is left.
    assert result.ok and any("not pinned" in w for w in result.warnings)


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_checkpoints_deleted_or_emptied_fail_unless_the_log_is_new(log: Log, damage: str) -> None:
    for path in log.places:
        path.unlink() if damage == "deleted" else path.write_text("")
    result = log.verify()
    assert not result.ok and "no signed checkpoints" in result.problems[0].detail
    assert result.checkpoints == 0
    assert log.verify(allow_new=True).ok


def test_one_place_deleted_or_cut_short_shows_against_the_other(log: Log) -> None:
    primary, mirror = log.places
    mirror.unlink()
    assert "rolled_back" in _kinds(log.verify())
    lines = primary.read_text().splitlines(keepends=True)
    primary.write_text("".join(lines[:1]))
    shutil.copy(primary, mirror)
    log.batch(1)
    # Both cut to their first line under a running writer: it counts on from what it wrote, leaving a gap.
    assert "missing (lines deleted)" in " ".join(p.detail for p in log.verify().problems)


def _roll_back(log: Log, to_seq: int) -> None:
    """A restored backup of the store: everything after ``to_seq`` gone, the head consistent with it."""
    with log.engine.begin() as connection:
        digest = connection.execute(select(audit_log.c.hash).where(audit_log.c.seq == to_seq)).scalar_one()
        connection.execute(delete(audit_log).where(audit_log.c.seq > to_seq))
        connection.execute(update(audit_head).values(seq=to_seq, hash=digest))


def test_store_and_checkpoint_file_rolled_back_together_show_in_the_mirror(log: Log) -> None:
    primary = log.places[0]
    backup = primary.read_text()  # a backup of the data folder taken now, at 8 entries
    known = log.verify().head_seq
    log.batch(5)
    _roll_back(log, known)
    primary.write_text(backup)  # the data folder restored: store and checkpoint file agree again
    assert log.verify(places=[primary]).ok  # the data folder alone is consistent...
    result = log.verify()  # ...the mirror is not
    assert "rolled_back" in _kinds(result) and any("signed the log at 13 entries" in p.detail for p in result.problems)


def test_everything_rolled_back_together_shows_only_against_a_known_head(log: Log) -> None:
    backups = [path.read_text() for path in log.places]
    earlier = log.verify()
    log.batch(5)
    recorded = log.verify()
    _roll_back(log, earlier.head_seq)
    for path, text in zip(log.places, backups, strict=True):
        path.write_text(text)
    assert log.verify().ok  # documented limit: nothing inside the attacker's reach remembers
    result = log.verify(known_head=KnownHead(recorded.head_seq, recorded.head_hash))
    assert _kinds(result) == {"rolled_back"}


def test_rolled_back_and_written_again_differs_from_the_known_head(log: Log) -> None:
    recorded = log.verify()
    _roll_back(log, recorded.head_seq - 2)
    log.batch(2)  # the same length again, different entries
    result = log.verify(known_head=KnownHead(recorded.head_seq, recorded.head_hash))
    assert "rolled_back" in _kinds(result)


def test_legacy_log_is_reported_then_migrated(store_url: str, tmp_path: Path) -> None:
    import hashlib
    import hmac

    engine = open_engine(store_url)
    legacy_key = b"an hmac secret of an earlier version"
    with engine.begin() as connection:  # written by an earlier version: no seals, HMAC checkpoints
        seq, digest = append(connection, [AuditEntry("server", "server.start", "ok") for _ in range(4)], None)
    place = tmp_path / "audit-checkpoints.jsonl"
    mac = hmac.new(legacy_key, f"{seq}:{digest}:7".encode(), hashlib.sha256).hexdigest()
    place.write_text(json.dumps({"seq": seq, "hash": digest, "at_us": 7, "mac": mac}) + "\n")
    key = generate(tmp_path / "audit-signing.key")
    checkpoints = Checkpoints([place], key, pinned=(key.public,))
    before = verify_log(engine, checkpoints, allow_new=True)
    assert [p.kind for p in before.problems] == ["unsealed"] and "enclave audit migrate" in before.problems[0].detail
    done = migrate_log(engine, checkpoints, legacy_key, "cli:test")
    assert (done.sealed, done.legacy_checked) == (4, 1)
    after = verify_log(engine, checkpoints)
    assert after.ok, after.problems
    assert after.entries == 5 and any("HMAC" in w for w in after.warnings)
    assert migrate_log(engine, checkpoints, legacy_key, "cli:test").sealed == 0  # once
    engine.dispose()


def test_migration_refuses_a_log_its_old_checkpoint_contradicts(store_url: str, tmp_path: Path) -> None:
    import hashlib
    import hmac

    from enclave.errors import InvalidRequest

    engine = open_engine(store_url)
    with engine.begin() as connection:
        seq, digest = append(connection, [AuditEntry("server", "server.start", "ok") for _ in range(3)], None)
    place = tmp_path / "audit-checkpoints.jsonl"
    mac = hmac.new(b"old", f"{seq}:{digest}:7".encode(), hashlib.sha256).hexdigest()
    place.write_text(json.dumps({"seq": seq, "hash": digest, "at_us": 7, "mac": mac}) + "\n")
    _roll_back(Log(engine, generate(tmp_path / "k"), [place]), 2)
    key = generate(tmp_path / "audit-signing.key")
    with pytest.raises(InvalidRequest):
        migrate_log(engine, Checkpoints([place], key), b"old", "cli:test")
    engine.dispose()


def test_cli_verify_fails_on_a_deleted_checkpoint_file_and_a_swapped_key_stops_writers(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "audit-signing.key"
    config = tmp_path / "enclave.yaml"
    config.write_text(
        f"data_dir: {tmp_path}\naudit: {{signing_key_file: {key_file}, "
        f"checkpoint_mirror: {tmp_path / 'worm' / 'checkpoints.jsonl'}}}\n"
    )
    made = enclave("audit", "keygen", config=config)
    assert made.returncode == 0, made.stderr
    public = next(line.split()[-1] for line in made.stdout.splitlines() if line.startswith("public key:"))
    config.write_text(config.read_text().replace("}", f", public_keys: ['{public}']}}"))
    assert enclave("keys", "create", "--name", "ops", "--role", "admin", config=config).returncode == 0
    verified = enclave("audit", "verify", config=config)
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout
    assert "not pinned" not in verified.stdout
    (tmp_path / "audit-checkpoints.jsonl").unlink()
    verified = enclave("audit", "verify", config=config)
    assert verified.returncode == 1 and "deleted" in verified.stdout
    key_file.unlink()
    generate(key_file)  # the key file swapped for another
    refused = enclave("keys", "create", "--name", "intruder", "--role", "admin", config=config)
    assert refused.returncode == 1 and "not one of audit.public_keys" in " ".join(refused.stderr.split())
