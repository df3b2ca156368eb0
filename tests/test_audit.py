"""The audit log's hash chain and signed checkpoints catch edits, deletions, reordering and a cut tail (the
attacks on the signatures themselves are in test_audit_tamper.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update

from enclave.audit.chain import AuditEntry, append, walk
from enclave.audit.checkpoints import Checkpoints
from enclave.audit.signing import SigningKey, generate
from enclave.audit.verify import verify_log
from enclave.store.db import open_engine
from enclave.store.schema import audit_head, audit_log


@pytest.fixture
def key(tmp_path) -> SigningKey:  # type: ignore[no-untyped-def]
    return generate(tmp_path / "keys" / "audit-signing.key")


@pytest.fixture
def chain(store_url: str, tmp_path, key: SigningKey):  # type: ignore[no-untyped-def]
    engine = open_engine(store_url)
    with engine.begin() as connection:
        for i in range(1, 11):
            append(connection, [AuditEntry("enc_test0001", "inference", "ok", "claims", "smollm2", {"n": i})], key)
    signed = Checkpoints([tmp_path / "checkpoints.jsonl"], key, pinned=(key.public,))
    with engine.connect() as connection:
        seq, head = connection.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
    signed.write(seq, head)
    yield engine, signed
    engine.dispose()


def _verify(engine, signed):  # type: ignore[no-untyped-def]
    return verify_log(engine, signed)


def test_intact_chain_verifies(chain) -> None:  # type: ignore[no-untyped-def]
    result = _verify(*chain)
    assert result.ok, result.problems
    assert result.entries == 10 and result.checkpoints == 1


def test_edited_row_is_found_where_it_is(chain) -> None:  # type: ignore[no-untyped-def]
    engine, signed = chain
    with engine.begin() as connection:
        connection.execute(update(audit_log).where(audit_log.c.seq == 4).values(outcome="denied"))
    problems = _verify(engine, signed).problems
    assert [(p.seq, p.kind) for p in problems] == [(4, "edited")]


def test_edit_with_recomputed_hash_breaks_the_next_link(chain) -> None:  # type: ignore[no-untyped-def]
    from enclave.audit.chain import entry_hash

    engine, signed = chain
    with engine.begin() as connection:
        row = connection.execute(select(audit_log).where(audit_log.c.seq == 4)).one()
        forged = entry_hash(
            4, row.at_us, "someone-else", row.project, row.action, row.resource, row.outcome, row.details, row.prev_hash
        )
        connection.execute(update(audit_log).where(audit_log.c.seq == 4).values(actor="someone-else", hash=forged))
    problems = _verify(engine, signed).problems
    assert (5, "out_of_order") in [(p.seq, p.kind) for p in problems]


def test_deleted_row_is_found(chain) -> None:  # type: ignore[no-untyped-def]
    engine, signed = chain
    with engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.seq == 6))
    kinds = {(p.seq, p.kind) for p in _verify(engine, signed).problems}
    assert (6, "missing") in kinds and (7, "out_of_order") in kinds


def test_reordered_rows_are_found(chain) -> None:  # type: ignore[no-untyped-def]
    engine, signed = chain
    with engine.begin() as connection:
        # Swap entries 3 and 7 wholesale, sequence numbers included.
        connection.execute(update(audit_log).where(audit_log.c.seq == 3).values(seq=-3))
        connection.execute(update(audit_log).where(audit_log.c.seq == 7).values(seq=3))
        connection.execute(update(audit_log).where(audit_log.c.seq == -3).values(seq=7))
    problems = _verify(engine, signed).problems
    seqs = {p.seq for p in problems}
    assert {3, 7} <= seqs, problems


def test_cut_tail_is_caught_by_the_checkpoint(chain) -> None:  # type: ignore[no-untyped-def]
    engine, signed = chain
    with engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.seq > 8))
        row = connection.execute(select(audit_log.c.hash).where(audit_log.c.seq == 8)).one()
        connection.execute(update(audit_head).values(seq=8, hash=row.hash))  # a careful forger fixes the head
    with engine.connect() as connection:
        assert walk(connection, set(), [signed.key.public])[0].ok  # the chain and its seals alone look fine
    problems = _verify(engine, signed).problems
    assert [p.kind for p in problems] == ["rolled_back"]
    assert "deleted" in problems[0].detail


def test_checkpoint_signed_by_another_key_is_refused(chain, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine, signed = chain
    Checkpoints(signed.places, generate(tmp_path / "other.key")).write(99, "0" * 64)
    problems = _verify(engine, signed).problems
    assert [p.kind for p in problems] == ["key"] and "not trusted" in problems[0].detail


def test_edited_checkpoint_is_refused(chain) -> None:  # type: ignore[no-untyped-def]
    engine, signed = chain
    path = signed.places[0]
    path.write_text(path.read_text().replace('"seq": 10', '"seq": 9'))
    problems = _verify(engine, signed).problems
    assert [p.kind for p in problems] == ["checkpoint", "checkpoint"], problems
    assert "signature does not match" in problems[0].detail and "no signed checkpoints" in problems[1].detail


def test_concurrent_writers_never_fork_the_chain(store_url: str, key: SigningKey) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = open_engine(store_url)

    def write(i: int) -> None:
        with engine.begin() as connection:
            append(connection, [AuditEntry(f"writer{i}", "inference", "ok") for _ in range(5)], key)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(40)))
    with engine.connect() as connection:
        result, _ = walk(connection, set(), [key.public])
        assert connection.execute(text("SELECT count(*) FROM audit_log")).scalar() == 200
    assert result.ok, result.problems
    engine.dispose()


def test_verify_while_entries_are_appended_finds_nothing_wrong(store_url: str, tmp_path, key: SigningKey) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time

    engine = open_engine(store_url)
    signed = Checkpoints(
        [tmp_path / "checkpoints.jsonl", tmp_path / "mirror" / "checkpoints.jsonl"], key, pinned=(key.public,)
    )
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            with engine.begin() as connection:
                seq, head = append(connection, [AuditEntry("writer", "inference", "ok") for _ in range(3)], key)
            signed.write(seq, head)

    thread = threading.Thread(target=writer)
    thread.start()
    results = []
    try:
        # Until verification has seen the log at three lengths as it grew, however slow the machine.
        deadline = time.monotonic() + 60
        while len({r.entries for r in results if r.entries}) < 3:
            assert time.monotonic() < deadline, "the log did not grow while it was verified"
            results.append(verify_log(engine, signed, allow_new=True))
    finally:
        stop.set()
        thread.join()
    assert all(r.ok for r in results), [r.problems for r in results if not r.ok][:1]
    engine.dispose()


def test_seal_columns_migrate_down_and_up_with_entries_kept(store_url: str, key: SigningKey) -> None:
    from alembic import command
    from alembic.config import Config

    from enclave.store.db import MIGRATIONS

    engine = open_engine(store_url)
    with engine.begin() as connection:
        append(connection, [AuditEntry("writer", "inference", "ok") for _ in range(3)], key)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    for revision in ("0001", "head"):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if revision == "0001" else command.upgrade)(config, revision)
    with engine.connect() as connection:
        result, _ = walk(connection, set(), [key.public])
    # The links survive the round trip; the seals went with their columns, so the entries read as unsealed.
    assert result.entries == 3 and [p.kind for p in result.problems] == ["unsealed"]
    engine.dispose()
