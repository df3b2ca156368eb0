"""One request must not be able to stop the ledger: rows the database refuses are set aside (dead letters) and
never block the rows behind them, and the edge refuses the values that would be refused, on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from enclave.audit.chain import AuditEntry, walk
from enclave.config import LedgerConfig
from enclave.ledger.dead_letters import list_dead_letters
from enclave.ledger.recorder import SET_ASIDE, Recorder
from enclave.ledger.records import Retained, UsageRecord
from enclave.store.db import now_us, open_engine
from enclave.store.schema import audit_log, retained, usage
from tests.servers import enclave, running_server, write_config
from tests.stores import database


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    yield engine
    engine.dispose()


def _row(request_id: str, model: str = "m", **fields: object) -> UsageRecord:
    return UsageRecord(request_id, now_us(), "chat", model, "ok", 1.0, **fields)  # type: ignore[arg-type]


def _usage_ids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(usage.c.request_id)).scalars())


# Refused by both databases: a number no integer column holds, text that is not Unicode, a duplicate key.
EVERYWHERE = {
    "overflow": _row("poison-overflow", prompt_tokens=2**70),
    "surrogate": _row("poison-surrogate", model="bad\ud800model"),
}
# Refused by PostgreSQL; SQLite stores them as they are (it neither bounds VARCHAR nor refuses NUL).
POSTGRES_ONLY = {
    "too_long": _row("poison-long", model="m" * 4000),
    "nul": _row("poison-nul", model="a\x00b"),
    "long_project": _row("poison-project", project="p" * 500),
}


def test_rows_the_database_refuses_are_set_aside_and_the_rest_written(engine: Engine) -> None:
    postgres = engine.dialect.name == "postgresql"
    recorder = Recorder(engine, LedgerConfig(batch=1000, max_pending=100))
    assert recorder.flush_once()
    recorder.record(_row("dup"))
    assert recorder.flush_once()
    good = [f"good-{i}" for i in range(60)]
    poisons = [*EVERYWHERE.values(), *POSTGRES_ONLY.values(), _row("dup")]
    for i, request_id in enumerate(good):  # poison spread through the batch, with good rows either side
        recorder.record(_row(request_id), AuditEntry("enc_x", "inference", "ok", resource=request_id))
        if i % 8 == 3 and poisons:
            recorder.record(poisons.pop())
    recorder.record(audit=AuditEntry("enc_x", "admin.access", "ok", resource="DELETE /admin/keys/" + "k" * 5000))
    recorder.record(audit=AuditEntry("a\x00b", "admin.access", "ok"))
    now = now_us()
    recorder.record(kept=Retained("kept-nul", "p", now, now + 10**9, '["hi"]', "an answer with \x00 in it"))
    recorder.record(kept=Retained("kept-ok", "p", now, now + 10**9, '["hi"]', "a plain answer"))
    for _ in range(3):  # the set-aside markers are written by the next flush
        assert recorder.flush_once()
    assert recorder.pending == 0 and not recorder.backlogged

    written = _usage_ids(engine)
    assert set(good) <= written
    refused_usage = {"poison-overflow", "poison-surrogate"} | (
        {r.request_id for r in POSTGRES_ONLY.values()} if postgres else set()
    )
    assert not refused_usage & written
    letters = list_dead_letters(engine, limit=1000)
    kinds = sorted(letter["kind"] for letter in letters)
    expected = ["usage"] * (len(refused_usage) + 1)  # + the duplicate
    if postgres:
        expected += ["audit", "audit", "retained"]
    assert kinds == sorted(expected)
    assert recorder.set_aside == {k: kinds.count(k) for k in set(kinds)}
    for letter in letters:
        assert letter["error"] and letter["payload"]
    duplicate = next(letter for letter in letters if letter["payload"].get("request_id") == "dup")
    assert "Integrity" in duplicate["error"] or "Unique" in duplicate["error"]
    # A retained prompt and answer never outlive their table, even set aside.
    assert all("an answer with" not in str(letter["payload"]) for letter in letters)
    with engine.connect() as connection:
        assert set(connection.execute(select(retained.c.request_id)).scalars()) == (
            {"kept-ok"} if postgres else {"kept-ok", "kept-nul"}
        )
        markers = connection.execute(
            select(func.count()).select_from(audit_log).where(audit_log.c.action == SET_ASIDE)
        ).scalar()
        verification, _ = walk(connection, set(), None)
    assert markers == len(letters)  # the audit log shows where each row was set aside
    assert verification.ok, verification.problems


def test_an_unreachable_database_keeps_poison_and_good_rows_queued_alike(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    down = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/none", connect_args={"connect_timeout": 1})
    recorder = Recorder(down, LedgerConfig(max_pending=100))
    recorder.record(_row("good"))
    recorder.record(EVERYWHERE["overflow"])
    assert not recorder.flush_once()
    assert recorder.pending == 2 and not recorder.set_aside  # nothing is set aside for an outage
    working = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    recorder.engine = working
    assert recorder.flush_once() and recorder.flush_once()
    assert _usage_ids(working) == {"good"} and recorder.set_aside == {"usage": 1}
    working.dispose()


def test_the_writer_task_survives_poison_and_goes_on(engine: Engine) -> None:
    async def run() -> None:
        recorder = Recorder(engine, LedgerConfig(flush_seconds=0.05))
        recorder.start()
        recorder.record(EVERYWHERE["surrogate"])  # once raised straight out of the writer's task
        recorder.record(_row("after-1"))
        deadline = asyncio.get_running_loop().time() + 30
        while "after-1" not in _usage_ids(engine):
            assert asyncio.get_running_loop().time() < deadline, "the writer stopped"
            await asyncio.sleep(0.05)
        recorder.record(_row("after-2"))
        await recorder.close()

    asyncio.run(run())
    assert {"after-1", "after-2"} <= _usage_ids(engine)


def test_admins_list_dead_letters_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'enclave.db'}"
    engine = open_engine(url)
    recorder = Recorder(engine, LedgerConfig())
    recorder.record(EVERYWHERE["overflow"])
    assert recorder.flush_once()
    engine.dispose()
    listed = enclave("ledger", "dead-letters", "--json", config=write_config(tmp_path, {"store": {"url": url}}))
    assert listed.returncode == 0, listed.stderr
    (letter,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert letter["kind"] == "usage" and "OverflowError" in letter["error"]
    assert letter["payload"]["request_id"] == "poison-overflow"


def test_the_dead_letters_migration_goes_down_and_up(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from enclave.store.db import MIGRATIONS, migrate

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    assert "ledger_dead_letters" not in inspect(engine).get_table_names()
    migrate(engine)
    assert "ledger_dead_letters" in inspect(engine).get_table_names()


# --- at the edge, against real servers -----------------------------------------------------------------------

CHAT = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 2}
# (what, method, path, body, headers, the field the 400 names): each once stopped every later write on PostgreSQL
# or would have, and each is refused at the edge now, before anything is queued for the ledger.
EDGE = [
    ("model too long", "POST", "/v1/chat/completions", {**CHAT, "model": "m" * 200}, {}, "model"),
    ("NUL in the model", "POST", "/v1/completions", {"model": "smol\x00", "prompt": "hi"}, {}, "model"),
    (
        "project header too long",
        "POST",
        "/v1/chat/completions",
        CHAT,
        {"x-enclave-project": "p" * 200},
        "x-enclave-project",
    ),
    (
        "project header not a name",
        "POST",
        "/v1/chat/completions",
        CHAT,
        {"x-enclave-project": "a b;c"},
        "x-enclave-project",
    ),
    (
        "metadata project",
        "POST",
        "/v1/chat/completions",
        {**CHAT, "metadata": {"project": "p" * 65}},
        {},
        "metadata.project",
    ),
    (
        "metadata too large",
        "POST",
        "/v1/chat/completions",
        {**CHAT, "metadata": {f"k{i}": "v" for i in range(17)}},
        {},
        "metadata",
    ),
    ("user too long", "POST", "/v1/chat/completions", {**CHAT, "user": "u" * 1000}, {}, "user"),
    ("key prefix too long", "DELETE", "/admin/keys/" + "k" * 5000, None, {}, "prefix"),
    ("NUL in a key prefix", "POST", "/admin/keys/enc_%00%00/revoke", None, {}, "prefix"),
    ("project path too long", "PATCH", "/admin/projects/" + "p" * 300, {"rpm": 5}, {}, "name"),
    ("usage filter with NUL", "GET", "/admin/usage?project=%00", None, {}, "project"),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server without keys (loopback), as the reported poisons were sent; with its store's URL."""
    directory = tmp_path_factory.mktemp(f"poison-{request.param}")
    with database(request.param, directory) as url:
        settings = {
            "store": {"url": url},
            "ledger": {"flush_seconds": 0.1, "max_pending": 100},
            "audit": {"checkpoint_seconds": 0},
        }
        config = write_config(directory, settings, context=512, parallel=2, threads=2)
        with running_server(config, directory / "server.log") as base:
            yield base, url


def _ledger_has(url: str, request_id: str) -> bool:
    engine = open_engine(url)
    with engine.connect() as connection:
        found = connection.execute(select(usage.c.id).where(usage.c.request_id == request_id)).first()
    engine.dispose()
    return found is not None


def _wait_for_row(url: str, request_id: str) -> None:
    deadline = time.monotonic() + 30
    while not _ledger_has(url, request_id):
        assert time.monotonic() < deadline, f"request {request_id} never reached the ledger"
        time.sleep(0.1)


@pytest.mark.parametrize(("what", "method", "path", "body", "headers", "param"), EDGE, ids=[e[0] for e in EDGE])
def test_client_values_out_of_bounds_are_400_naming_the_field(
    server: tuple[str, str], what: str, method: str, path: str, body: object, headers: dict[str, str], param: str
) -> None:
    base, url = server
    response = httpx.request(method, base + path, json=body, headers=headers, timeout=60)
    assert response.status_code == 400, (what, response.status_code, response.text)
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param, error
    # The ledger goes on: the next request's row is written.
    ok = httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=60)
    assert ok.status_code == 200
    _wait_for_row(url, ok.headers["x-request-id"])


def test_made_up_model_names_are_stored_as_one_value_and_nothing_is_set_aside(server: tuple[str, str]) -> None:
    base, url = server
    for i in range(5):
        missing = httpx.post(f"{base}/v1/chat/completions", json={**CHAT, "model": f"made-up-{i}"}, timeout=60)
        assert missing.status_code == 404
    ok = httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=60)
    _wait_for_row(url, ok.headers["x-request-id"])
    engine = open_engine(url)
    with engine.connect() as connection:
        models = set(connection.execute(select(usage.c.model)).scalars())
        resources = list(
            connection.execute(select(audit_log.c.resource).where(audit_log.c.action == "admin.access")).scalars()
        )
    engine.dispose()
    assert not any(m.startswith("made-up") for m in models) and "(unknown)" in models
    assert all(r is None or len(r) <= 256 for r in resources)
    metrics = httpx.get(f"{base}/metrics").text
    assert 'enclave_ledger_dead_letters_total{kind="usage"} 0.0' in metrics
    assert httpx.get(f"{base}/admin/dead-letters").json()["data"] == []
