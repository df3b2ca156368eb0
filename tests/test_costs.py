"""`enclave costs`: figures from rows written by the ledger's own writer into a real SQLite store, checked against
sums worked out by hand; whole UTC days as bounds; reasons when break-even cannot be computed; the real CLI."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, func, select

from enclave.config import LedgerConfig, PricesConfig, TokenPrice
from enclave.ledger.costs import NO_THROUGHPUT, cost_report
from enclave.ledger.period import Period, period_of
from enclave.ledger.prices import PriceSheet
from enclave.ledger.recorder import Recorder
from enclave.ledger.records import UsageRecord
from enclave.routing.table import Target
from enclave.store.db import open_engine
from enclave.store.schema import usage
from tests.servers import enclave

PRICES = PricesConfig(tokens={"openai/gpt-x": TokenPrice(input=2.0, output=8.0)}, hourly={"embedded": 1.8})
LOCAL = Target("embedded", "smol", "local")
HOSTED = Target("openai", "gpt-x", "external")
MARCH = Period(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
AFTER_MARCH = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)


def _at(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()) * 1_000_000


def _row(n: int, at: str, target: Target | None, prompt: int, completion: int, busy: float | None, project: str):
    cost = PriceSheet(PRICES).cost(target, prompt, completion, busy) if target else 0.0
    return UsageRecord(
        f"r{n}",
        _at(at),
        "chat",
        target.model if target else "smol",
        "ok" if target else "error",
        10.0,
        project=project,
        target=str(target) if target else None,
        zone=target.zone if target else None,
        prompt_tokens=prompt,
        completion_tokens=completion,
        compute_seconds=busy,
        cost=cost,
    )


def _write(engine: Engine, rows: list[UsageRecord]) -> None:
    recorder = Recorder(engine, LedgerConfig())
    for row in rows:
        recorder.record(row)
    assert recorder.flush_once() and recorder.pending == 0


# Two local requests (2,000 tokens in 5 busy seconds: 400 tokens/s), one hosted, one refused before routing.
MARCH_ROWS = [
    (1, "2025-03-02T10:00:00", LOCAL, 600, 400, 2.0, "alpha"),
    (2, "2025-03-15T12:00:00", LOCAL, 300, 700, 3.0, "alpha"),
    (3, "2025-03-20T08:00:00", HOSTED, 1000, 500, None, "beta"),
    (4, "2025-03-21T08:00:00", None, 0, 0, None, "beta"),
]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    yield engine
    engine.dispose()


def test_figures_match_the_hand_computed_ones(engine: Engine) -> None:
    _write(engine, [_row(*r) for r in MARCH_ROWS])
    r = cost_report(engine, PRICES, MARCH, AFTER_MARCH)
    assert (r["requests"], r["tokens"]) == (4, 3500)
    assert r["cost"] == pytest.approx(0.001 + 0.0015 + 0.006)  # 1.8/h x 5 s, and (1000 x 2 + 500 x 8) / 1e6
    assert r["local"]["tokens"] == 2000 and r["local"]["busy_seconds"] == 5.0
    assert r["local"]["cost"] == pytest.approx(0.0025)
    (embedded,) = r["local"]["providers"]
    assert embedded["throughput_tokens_per_second"] == 400.0
    assert embedded["utilisation"] == pytest.approx(5 / (31 * 86_400), abs=1e-6)
    assert r["hosted"]["tokens"] == 1500 and r["hosted"]["cost"] == pytest.approx(0.006)
    assert r["hosted"]["cost_on_local"] == pytest.approx(1500 / 400 * 1.8 / 3600)
    # The local traffic (900 prompt, 1,100 completion tokens) at 2 and 8 per 1M: 0.0106, i.e. 5.3 per 1M tokens.
    (alternative,) = r["local_on_hosted"]
    assert alternative["local_traffic_cost"] == pytest.approx(0.0106)
    assert alternative["price_per_million_tokens"] == pytest.approx(5.3)
    assert r["savings"] == pytest.approx(0.0106 - 0.0025) and r["compared_with"] == "openai/gpt-x"
    # Break-even: 1.8 x 24 = 43.2 a day over 5.3e-6 a token; one machine serves 400 x 86,400 = 34.56M a day.
    assert r["break_even_tokens_per_day"] == round(43.2 / 5.3e-6) == 8_150_943
    assert r["reason"] is None
    assert r["break_even"]["capacity_tokens_per_day"] == 34_560_000
    low, medium, high = r["scenarios"]
    assert (low["cheaper"], low["hosted_cost_per_day"], low["local_cost_per_day"]) == ("hosted", 5.3, 43.2)
    assert (medium["cheaper"], medium["hosted_cost_per_day"]) == ("local", 53.0)
    assert (high["machines"], high["local_cost_per_day"]) == (3, pytest.approx(129.6))
    projects = {p["name"]: p for p in r["by_project"]}
    assert projects["alpha"]["local_tokens"] == 2000 and projects["alpha"]["hosted_tokens"] == 0
    assert (projects["beta"]["requests"], projects["beta"]["hosted_tokens"]) == (2, 1500)
    models = {m["name"]: m for m in r["by_model"]}
    assert models["smol"]["requests"] == 3 and models["gpt-x"]["cost"] == pytest.approx(0.006)


def test_rows_at_23_59_59_and_00_00_00_utc_fall_on_their_own_days(engine: Engine) -> None:
    _write(
        engine,
        [
            _row(1, "2025-03-31T23:59:59", LOCAL, 10, 0, 1.0, "p"),
            _row(2, "2025-04-01T00:00:00", LOCAL, 0, 20, 1.0, "p"),
            _row(3, "2025-02-28T23:59:59", LOCAL, 0, 40, 1.0, "p"),
            _row(4, "2025-03-01T00:00:00", LOCAL, 80, 0, 1.0, "p"),
        ],
    )
    now = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
    assert cost_report(engine, PRICES, MARCH, now)["tokens"] == 90
    april = period_of(None, None, "month", dt.date(2025, 4, 15))
    assert cost_report(engine, PRICES, april, now)["tokens"] == 20
    last_day = period_of("2025-03-31", "2025-03-31", None, now.date())
    assert cost_report(engine, PRICES, last_day, now)["tokens"] == 10
    # The same sums as SQL over the raw rows of the same half-open range.
    with engine.connect() as connection:
        tokens = connection.execute(
            select(func.sum(usage.c.prompt_tokens + usage.c.completion_tokens)).where(
                usage.c.at_us >= _at("2025-03-01T00:00:00"), usage.c.at_us < _at("2025-04-01T00:00:00")
            )
        ).scalar()
    assert tokens == 90


def test_a_period_without_rows_reports_zeros_and_why_there_is_no_break_even(engine: Engine) -> None:
    _write(engine, [_row(*r) for r in MARCH_ROWS])
    r = cost_report(engine, PRICES, Period(dt.date(2025, 1, 1), dt.date(2025, 1, 31)), AFTER_MARCH)
    assert (r["requests"], r["tokens"], r["cost"]) == (0, 0, 0.0)
    assert r["break_even_tokens_per_day"] is None and r["reason"] == NO_THROUGHPUT
    assert r["by_project"] == [] and r["scenarios"] == []


def test_missing_prices_give_a_reason_not_a_figure(engine: Engine) -> None:
    _write(engine, [_row(*r) for r in MARCH_ROWS])
    no_hosted = cost_report(engine, PricesConfig(hourly={"embedded": 1.8}), MARCH, AFTER_MARCH)
    assert no_hosted["break_even_tokens_per_day"] is None and "prices.tokens" in no_hosted["reason"]
    assert no_hosted["savings"] is None and no_hosted["hosted"]["cost_on_local"] is not None
    no_hourly = cost_report(engine, PricesConfig(tokens=PRICES.tokens), MARCH, AFTER_MARCH)
    assert no_hourly["break_even_tokens_per_day"] is None and "prices.hourly" in no_hourly["reason"]
    # An API cheaper than a fully busy machine: computed, and the answer is that self-hosting never pays.
    cheap = PricesConfig(tokens={"openai/gpt-x": TokenPrice(input=0.01, output=0.01)}, hourly={"embedded": 1.8})
    r = cost_report(engine, cheap, MARCH, AFTER_MARCH)
    assert r["break_even_tokens_per_day"] is None and "does not break even" in r["reason"]
    assert all(s["cheaper"] == "hosted" for s in r["scenarios"])


def _cli_store(tmp_path: Path) -> Path:
    config = tmp_path / "enclave.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path), "prices": PRICES.model_dump()}))
    engine = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    _write(engine, [_row(*r) for r in MARCH_ROWS])
    engine.dispose()
    return config


def test_cli_prints_the_report_as_json_and_as_tables(tmp_path: Path) -> None:
    config = _cli_store(tmp_path)
    done = enclave("costs", "--since", "2025-03-01", "--until", "2025-03-31", "--json", config=config)
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    assert (r["requests"], r["tokens"], r["break_even_tokens_per_day"]) == (4, 3500, 8_150_943)
    assert r["cost"] == pytest.approx(0.0085)
    assert r["period"]["end"] == "2025-04-01T00:00:00Z"
    table = enclave("costs", "--since", "2025-03-01", "--until", "2025-03-31", config=config)
    assert table.returncode == 0, table.stderr
    assert "break-even: 8,150,943 tokens/day" in table.stdout
    assert "openai/gpt-x" in table.stdout and "alpha" in table.stdout and "medium" in table.stdout
    empty = enclave("costs", "--since", "2025-01-01", "--until", "2025-01-31", config=config)
    assert empty.returncode == 0 and "no usage recorded in this period" in empty.stdout


def test_cli_refuses_bad_dates_naming_the_option(tmp_path: Path) -> None:
    config = _cli_store(tmp_path)
    bad = enclave("costs", "--since", "2025-13-01", config=config)
    assert bad.returncode == 2 and "since" in bad.stderr and "YYYY-MM-DD" in bad.stderr
    backwards = enclave("costs", "--since", "2025-03-31", "--until", "2025-03-01", config=config)
    assert backwards.returncode == 2 and "until" in backwards.stderr
    mixed = enclave("costs", "--period", "week", "--since", "2025-03-01", config=config)
    assert mixed.returncode == 2 and "period" in mixed.stderr
