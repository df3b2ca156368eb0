"""The usage ledger: rows match the requests made, after a burst, a clean stop and a kill -9; limits shared
by replicas; prices and busy time."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from enclave.audit.chain import AuditEntry, walk
from enclave.config import LedgerConfig, PricesConfig, TokenPrice
from enclave.ledger.busy import BusyClock
from enclave.ledger.prices import PriceSheet
from enclave.ledger.recorder import Recorder
from enclave.ledger.records import Retained, UsageRecord
from enclave.routing.table import Target
from enclave.store.db import now_us, open_engine
from enclave.store.schema import audit_log, retained, usage
from tests.servers import enclave, running_server, write_config
from tests.stores import database, postgres_database, redis_or_skip
from tests.waiting import wait_until

CHAT = {
    "model": "smollm2-135m",
    "messages": [{"role": "user", "content": "Count to three"}],
    "max_tokens": 8,
    "temperature": 0,
}


def _count(url: str) -> tuple[int, int, int]:
    engine = open_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                func.count(),
                func.coalesce(func.sum(usage.c.prompt_tokens), 0),
                func.coalesce(func.sum(usage.c.completion_tokens), 0),
            )
        ).one()
        audited = connection.execute(
            select(func.count()).select_from(audit_log).where(audit_log.c.action == "inference")
        ).scalar()
        assert walk(connection, set(), None)[0].ok
    engine.dispose()
    assert rows[0] == audited
    return int(rows[0]), int(rows[1]), int(rows[2])


def _rows(url: str) -> tuple[int, int]:
    """Usage rows and inference audit entries written so far."""
    engine = open_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(usage)).scalar_one()
        audited = connection.execute(
            select(func.count()).select_from(audit_log).where(audit_log.c.action == "inference")
        ).scalar_one()
    engine.dispose()
    return int(rows), int(audited)


def _config(directory: Path, url: str, flush: float, **extra: object) -> Path:
    settings = {"store": {"url": url}, "ledger": {"flush_seconds": flush}, **extra}
    return write_config(directory, settings, context=512, parallel=8, threads=2)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_burst_then_clean_stop_loses_nothing(kind: str, tmp_path: Path) -> None:
    with database(kind, tmp_path) as url:
        # A flush interval longer than the test: every row is written by the shutdown flush.
        config = _config(tmp_path, url, flush=60)
        with running_server(config, tmp_path / "server.log") as base, ThreadPoolExecutor(16) as pool:
            responses = list(
                pool.map(lambda _: httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=120), range(24))
            )
            assert all(r.status_code == 200 for r in responses)
        prompt = sum(r.json()["usage"]["prompt_tokens"] for r in responses)
        completion = sum(r.json()["usage"]["completion_tokens"] for r in responses)
        assert _count(url) == (24, prompt, completion)


def test_kill_9_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'enclave.db'}"
    config = _config(tmp_path, url, flush=0.2)
    processes: list[subprocess.Popen[bytes]] = []
    with running_server(config, tmp_path / "server.log", process_out=processes) as base:
        responses = [httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=60) for _ in range(5)]
        assert all(r.status_code == 200 for r in responses)
        # Killed once a flush has written every row (which a kill -9 cannot lose), not after a guessed time.
        wait_until(lambda: _rows(url) == (5, 5), message="five usage rows and audit entries flushed")
        os.kill(processes[0].pid, signal.SIGKILL)
        processes[0].wait()
    prompt = sum(r.json()["usage"]["prompt_tokens"] for r in responses)
    completion = sum(r.json()["usage"]["completion_tokens"] for r in responses)
    assert _count(url) == (5, prompt, completion)
    # The store is consistent after the kill: the server starts again on it and keeps counting.
    with running_server(config, tmp_path / "server2.log") as base:
        assert httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=60).status_code == 200
    assert _count(url)[0] == 6
    verified = enclave("audit", "verify", config=config)
    assert verified.returncode == 0, verified.stdout


def test_replicas_share_limits_through_redis(tmp_path: Path) -> None:
    redis_url = redis_or_skip()
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with postgres_database() as url:
        config = _config(
            tmp_path, url, flush=0.2, limits={"backend": "redis", "redis_url": redis_url}, auth={"mode": "on"}
        )
        made = enclave("keys", "create", "--name", "ops", "--role", "admin", config=config)
        admin = made.stdout.strip()
        with running_server(config, tmp_path / "a.log") as a, running_server(config, tmp_path / "b.log") as b:
            headers = {"Authorization": f"Bearer {admin}"}
            assert (
                httpx.post(f"{a}/admin/projects", json={"name": "shared", "rpm": 4}, headers=headers).status_code == 201
            )
            key = httpx.post(
                f"{b}/admin/keys", json={"name": "dev", "role": "developer", "project": "shared"}, headers=headers
            ).json()["key"]
            statuses = [
                httpx.post(
                    f"{base}/v1/chat/completions", json=CHAT, timeout=60, headers={"Authorization": f"Bearer {key}"}
                ).status_code
                for base in (a, b, a, b, a, b)
            ]
        assert statuses.count(200) == 4 and statuses.count(429) == 2, statuses


@pytest.fixture
def engine(store_url: str):  # type: ignore[no-untyped-def]
    engine = open_engine(store_url)
    yield engine
    engine.dispose()


def _row(i: int) -> UsageRecord:
    return UsageRecord(f"req{i}", now_us(), "chat", "m", "ok", 1.0, prompt_tokens=2, completion_tokens=3)


def test_recorder_batches_and_flushes_on_close(engine) -> None:  # type: ignore[no-untyped-def]
    async def run() -> None:
        recorder = Recorder(engine, LedgerConfig(flush_seconds=60, batch=50))
        recorder.start()
        for i in range(120):
            recorder.record(_row(i), AuditEntry("enc_x", "inference", "ok"))
        await recorder.close()

    asyncio.run(run())
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(usage)).scalar() == 120
        assert connection.execute(select(func.count()).select_from(audit_log)).scalar() == 120


def test_expired_retained_messages_are_purged(engine) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder(engine, LedgerConfig())
    now = now_us()
    recorder.record(kept=Retained("old", "p", now - 10, now - 1, "[]", "gone"))
    recorder.record(kept=Retained("new", "p", now, now + 86_400_000_000, "[]", "kept"))
    assert recorder.flush_once()
    with engine.connect() as connection:
        assert sorted(connection.execute(select(retained.c.request_id)).scalars()) == ["new"]


def test_unreachable_database_keeps_rows_and_refuses_past_the_bound(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    working = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    down = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/none", connect_args={"connect_timeout": 1})
    recorder = Recorder(down, LedgerConfig(max_pending=100))
    for i in range(100):
        recorder.record(_row(i))
    assert not recorder.flush_once()  # nothing lost: the rows stay queued
    assert recorder.pending == 100 and recorder.backlogged  # the gateway now refuses new requests (503)
    recorder.engine = working  # the database is back
    assert recorder.flush_once()
    assert recorder.pending == 0 and not recorder.backlogged
    with working.connect() as connection:
        assert connection.execute(select(func.count()).select_from(usage)).scalar() == 100
    working.dispose()


def test_prices_per_token_and_per_busy_hour() -> None:
    sheet = PriceSheet(
        PricesConfig(tokens={"openai/gpt-x": TokenPrice(input=2.0, output=8.0)}, hourly={"embedded": 1.8})
    )
    assert sheet.cost(Target("openai", "gpt-x", "external"), 1_000_000, 500_000, None) == pytest.approx(6.0)
    assert sheet.cost(Target("embedded", "smol", "local"), 10, 10, 2.0) == pytest.approx(0.001)
    assert sheet.cost(Target("vllm", "llama", "local"), 10, 10, 2.0) == 0.0  # unpriced, not guessed


def test_busy_clock_shares_time_between_concurrent_requests() -> None:
    now = [100.0]
    clock = BusyClock(lambda: now[0])
    a = clock.start()
    now[0] += 0.1  # a alone
    b = clock.start()
    now[0] += 0.1  # a and b together
    share_a = clock.stop(a)
    share_b = clock.stop(b)
    assert share_a == pytest.approx(0.15) and share_b == pytest.approx(0.05)


def test_stream_abandoned_by_its_client_is_recorded_as_cancelled(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'enclave.db'}"
    config = _config(tmp_path, url, flush=0.2)
    body = {**CHAT, "max_tokens": 400, "ignore_eos": True, "stream": True}
    with running_server(config, tmp_path / "server.log") as base:
        with (
            httpx.Client(timeout=60) as client,
            client.stream("POST", f"{base}/v1/chat/completions", json=body) as stream,
        ):
            lines = stream.iter_lines()
            next(lines), next(lines)  # the stream is running; now hang up
        wait_until(
            lambda: httpx.get(f"{base}/health").json()["models"]["smollm2-135m"]["active_sequences"] == 0,
            message="the abandoned stream's sequence freed",
        )
    engine = open_engine(url)
    with engine.connect() as connection:
        assert list(connection.execute(select(usage.c.status, usage.c.endpoint))) == [("cancelled", "chat")]
    engine.dispose()


def test_database_gone_is_a_clear_503_and_the_server_stays_up(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    from tests.stores import PG_ADMIN_URL

    with postgres_database() as url:
        config = _config(tmp_path, url, flush=0.2, auth={"mode": "on"})
        admin = enclave("keys", "create", "--name", "ops", "--role", "admin", config=config).stdout.strip()
        with running_server(config, tmp_path / "server.log") as base:
            headers = {"Authorization": f"Bearer {admin}"}
            assert httpx.get(f"{base}/admin/keys", headers=headers).status_code == 200
            name = url.rsplit("/", 1)[1]
            server = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with server.connect() as connection:  # the database goes away under the running server
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            server.dispose()
            unknown = "enc_0badc0de_" + "x" * 43
            refused = httpx.post(
                f"{base}/v1/chat/completions", json=CHAT, timeout=60, headers={"Authorization": f"Bearer {unknown}"}
            )
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "store_unavailable"
            listed = httpx.get(f"{base}/admin/keys", headers=headers)
            assert listed.status_code == 503 and "Traceback" not in listed.text
            assert httpx.get(f"{base}/health").status_code == 200
