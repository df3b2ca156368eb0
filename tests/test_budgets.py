"""Budgets never overspend by more than one request's cost: concurrent bursts against a small budget on hourly
(busy-time) pricing, right after start-up, on one server and on two replicas sharing PostgreSQL and Redis. The
totals are the ledger's own sums."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, insert, select

from enclave.access.limits import Budget, MemoryLimiter
from enclave.errors import BudgetExceeded
from enclave.ledger.records import UsageRecord, month_of
from enclave.ledger.summary import month_spend
from enclave.store.db import now_us, open_engine
from enclave.store.schema import usage
from tests.servers import enclave, running_server, write_config
from tests.stores import database, postgres_database, redis_or_skip

# Every busy second costs 1: a request's cost is the busy time it used.
PRICES = {"hourly": {"embedded": 3600.0}}
CHAT = {
    "model": "smollm2-135m",
    "messages": [{"role": "user", "content": "Write a line about the sea."}],
    "max_tokens": 12,
    "temperature": 0,
}


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    yield engine
    engine.dispose()


def test_first_burst_after_start_up_loads_the_spend_once_and_overwrites_no_reservation(engine: Engine) -> None:
    with engine.begin() as connection:  # 3.0 of 5.0 spent before this process started
        connection.execute(
            insert(usage),
            [UsageRecord(f"r{i}", now_us(), "chat", "m", "ok", 1.0, project="p", cost=1.0).row() for i in range(3)],
        )
    loads: list[str] = []

    def spent(project: str, month: str) -> float:
        loads.append(project)
        return month_spend(engine, project, month)

    async def burst() -> list[bool]:
        limiter = MemoryLimiter(spent)
        budget = Budget("p", month_of(), 5.0, True, 1.0)

        async def one() -> bool:
            try:
                await limiter.admit([], 10, budget)
            except BudgetExceeded:
                return False
            return True

        return await asyncio.gather(*(one() for _ in range(20)))

    admitted = sum(asyncio.run(burst()))
    assert loads == ["p"]
    assert admitted == 2  # 3.0 + 1.0 + 1.0 reaches the limit: nothing more, however many arrive at once


def test_busy_rate_reservation_covers_a_request_of_the_same_kind() -> None:
    from enclave.config import PricesConfig
    from enclave.ledger.busy import BusyRates
    from enclave.ledger.prices import PriceSheet
    from enclave.routing.table import Target

    target = Target("embedded", "smol", "local")
    sheet, rates = PriceSheet(PricesConfig(hourly={"embedded": 3600.0})), BusyRates()
    before = sheet.estimate(target, 10, 20, rates.seconds_per_token(str(target)))
    assert before == pytest.approx(30 * BusyRates.DEFAULT_SECONDS_PER_TOKEN)  # nothing measured: the default
    rates.observe(str(target), 0.3, 10 + 20)  # 0.01 s per token, measured
    after = sheet.estimate(target, 10, 20, rates.seconds_per_token(str(target)))
    assert sheet.cost(target, 40, 20, 0.3) <= after < before


def _admin(config: Path) -> str:
    made = enclave("keys", "create", "--name", "ops", "--role", "admin", config=config)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def _project_key(base: str, admin: str, project: dict[str, object]) -> str:
    headers = {"Authorization": f"Bearer {admin}"}
    assert httpx.post(f"{base}/admin/projects", json=project, headers=headers).status_code == 201
    made = httpx.post(
        f"{base}/admin/keys",
        json={"name": f"{project['name']}-app", "role": "developer", "project": project["name"]},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["key"])


def _cost_of_one_request(base: str, admin: str) -> float:
    """What one request of the burst's kind costs on this machine now, from the ledger."""
    key = _project_key(base, admin, {"name": "probe"})
    for _ in range(3):
        assert (
            httpx.post(
                f"{base}/v1/chat/completions", json=CHAT, timeout=120, headers={"Authorization": f"Bearer {key}"}
            ).status_code
            == 200
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = httpx.get(
            f"{base}/admin/usage",
            params={"by": "project", "project": "probe"},
            headers={"Authorization": f"Bearer {admin}"},
        ).json()["data"]
        if rows and rows[0]["requests"] == 3:
            return float(rows[0]["cost"]) / 3
        time.sleep(0.1)
    raise AssertionError("the probe's usage rows were not written")


def _burst(bases: list[str], key: str, n: int) -> list[int]:
    def send(i: int) -> int:
        return httpx.post(
            f"{bases[i % len(bases)]}/v1/chat/completions",
            json=CHAT,
            timeout=120,
            headers={"Authorization": f"Bearer {key}"},
        ).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(send, range(n)))


def _spend(url: str, project: str) -> tuple[float, float, int]:
    """The project's month in the ledger: total cost, the largest single request's cost, requests served."""
    engine = open_engine(url)
    with engine.connect() as connection:
        total, largest, served = connection.execute(
            select(
                func.coalesce(func.sum(usage.c.cost), 0.0), func.coalesce(func.max(usage.c.cost), 0.0), func.count()
            ).where(usage.c.project == project, usage.c.month == month_of(), usage.c.status == "ok")
        ).one()
    engine.dispose()
    return float(total), float(largest), int(served)


def _settings(url: str, **extra: object) -> dict[str, object]:
    return {"auth": {"mode": "on"}, "store": {"url": url}, "ledger": {"flush_seconds": 0.2}, "prices": PRICES, **extra}


@pytest.mark.timeout(600)  # two servers and up to a few bursts on a loaded machine
def test_hourly_burst_right_after_start_up_overspends_at_most_one_request(tmp_path: Path) -> None:
    with database("sqlite", tmp_path) as url:
        config = write_config(tmp_path, _settings(url), context=512, parallel=4, threads=2)
        admin = _admin(config)
        with running_server(config, tmp_path / "first.log") as base:
            budget = 4 * _cost_of_one_request(base, admin)
            key = _project_key(base, admin, {"name": "tight", "monthly_budget": budget})
            assert (
                httpx.post(
                    f"{base}/v1/chat/completions", json=CHAT, timeout=120, headers={"Authorization": f"Bearer {key}"}
                ).status_code
                == 200
            )
        # A new process: its first burst meets a month already begun, loading while requests arrive.
        with running_server(config, tmp_path / "second.log") as base:
            statuses = _burst([base], key, 16)
            # The budget is 4 probes run alone; a fresh process reserves at its default rate. On a machine so loaded
            # that a lone probe cost more than 16 such reservations, the first burst fits under the budget: burst on
            # (the rates measured by then) until the budget refuses, and hold the bound there.
            deadline = time.monotonic() + 120  # within the test's own timeout
            while 429 not in statuses and time.monotonic() < deadline:
                statuses += _burst([base], key, 16)
    total, largest, served = _spend(url, "tight")
    assert statuses.count(429) > 0 and served >= 2, statuses
    assert total <= budget + largest, (total, budget, largest, statuses)


def test_hourly_burst_across_two_replicas_overspends_at_most_one_request(tmp_path: Path) -> None:
    redis_url = redis_or_skip()
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with postgres_database() as url, ExitStack() as servers:
        settings = _settings(url, limits={"backend": "redis", "redis_url": redis_url})
        config = write_config(tmp_path, settings, context=512, parallel=4, threads=1)
        admin = _admin(config)
        start = partial(running_server, config)
        bases = [servers.enter_context(start(tmp_path / f"{name}.log")) for name in ("a", "b")]
        budget = 4 * _cost_of_one_request(bases[0], admin)
        key = _project_key(bases[1], admin, {"name": "shared", "monthly_budget": budget})
        statuses = _burst(bases, key, 16)
        servers.close()  # both stop and write every row
        total, largest, served = _spend(url, "shared")
    assert statuses.count(429) > 0 and served >= 1, statuses
    assert total <= budget + largest, (total, budget, largest, statuses)
