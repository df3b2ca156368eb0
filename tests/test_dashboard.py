"""The usage dashboard over HTTP: every figure a page shows equals the SQL sum over the same UTC days, across
day boundaries and across pages; who may see it; bad filters as pages with their status, never a 500."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboards import (
    FIRST_DAY,
    KEYS,
    LAST_DAY,
    PRICES,
    Dashboard,
    Figures,
    Ledger,
    at_us,
    dashboard_server,
    usage_rows,
)

RANGES = [
    (FIRST_DAY, LAST_DAY),
    ("2025-03-31", "2025-03-31"),
    ("2025-04-01", "2025-04-01"),
    ("2025-03-29", "2025-04-03"),
]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with dashboard_server(tmp_path_factory.mktemp("dashboard")) as running:
        yield running


def _same(shown: str, expected: float | int | None) -> None:
    if expected is None:
        assert shown == ""
    elif isinstance(expected, int):
        assert int(shown) == expected
    else:
        # Float sums: the roll-up adds in another order than SQL over the rows (last-bit differences).
        assert float(shown) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def _check_overview(page: Figures, ledger: Ledger) -> None:
    requests, prompt, completion, cost = ledger.one(
        "COUNT(*), TOTAL(prompt_tokens), TOTAL(completion_tokens), TOTAL(cost)"
    )
    (errors,) = ledger.one("COUNT(*)", " AND status != 'ok'")
    _same(page.headline["requests_total"], requests)
    _same(page.headline["prompt_tokens_total"], int(prompt))
    _same(page.headline["completion_tokens_total"], int(completion))
    _same(page.headline["tokens_total"], int(prompt + completion))
    _same(page.headline["cost_total"], cost)
    _same(page.headline["errors_total"], errors)
    _same(page.headline["error_rate"], errors / requests if requests else 0.0)
    for zone, metric in (("local", "cost_local"), ("external", "cost_hosted")):
        (spent,) = ledger.one("TOTAL(cost)", f" AND zone = '{zone}'")
        _same(page.headline[metric], spent)


def _days(dashboard: Dashboard, params: dict[str, str], first: Figures) -> dict[str, dict[str, str]]:
    rows = dict(first.rows)
    for number in range(2, first.pages + 1):
        rows.update(dashboard.figures("/ui/", **params, page=str(number)).rows)
    return rows


@pytest.mark.parametrize(("since", "until"), RANGES)
def test_overview_figures_equal_the_sql_sums_over_the_same_days(dashboard: Dashboard, since: str, until: str) -> None:
    params = {"period": "custom", "since": since, "until": until}
    page = dashboard.figures("/ui/", **params)
    ledger = Ledger(dashboard.db, since, until)
    _check_overview(page, ledger)
    by_day = ledger.query(
        "strftime('%Y-%m-%d', at_us / 1000000, 'unixepoch') AS d, COUNT(*), TOTAL(prompt_tokens + completion_tokens), "
        "TOTAL(cost), SUM(status != 'ok')",
        "GROUP BY d",
    )
    days = _days(dashboard, params, page)
    assert {d for d, row in days.items() if int(row["requests"])} == {d for d, *_ in by_day}
    for day, requests, tokens, cost, errors in by_day:
        _same(days[day]["requests"], requests)
        _same(days[day]["tokens"], int(tokens))
        _same(days[day]["cost"], cost)
        _same(days[day]["errors"], errors)


def test_a_row_at_23_59_59_and_one_at_midnight_count_on_their_own_days(dashboard: Dashboard) -> None:
    march_31 = dashboard.figures("/ui/", period="custom", since="2025-03-31", until="2025-03-31")
    april_1 = dashboard.figures("/ui/", period="custom", since="2025-04-01", until="2025-04-01")
    both = dashboard.figures("/ui/", period="custom", since="2025-03-31", until="2025-04-01")
    assert march_31.number("requests_total") + april_1.number("requests_total") == both.number("requests_total")
    # Nothing before the first day or after the last one leaks in (rows at 2025-03-29T23:59:59.999999 and
    # 2025-04-03T00:00:00 exist).
    inside = dashboard.figures("/ui/", period="custom", since=FIRST_DAY, until=LAST_DAY).number("requests_total")
    wider = dashboard.figures("/ui/", period="custom", since="2025-03-29", until="2025-04-03").number("requests_total")
    assert wider == inside + 2  # the two edge rows (the rows written "now" are years later, outside both)


@pytest.mark.parametrize(
    ("path", "column"),
    [("/ui/keys", "key_prefix"), ("/ui/models", "model"), ("/ui/projects", "project"), ("/ui/targets", "target")],
)
def test_breakdowns_over_every_page_equal_the_sql_groups(dashboard: Dashboard, path: str, column: str) -> None:
    params = {"period": "custom", "since": FIRST_DAY, "until": LAST_DAY}
    first = dashboard.figures(path, **params)
    rows = dict(first.rows)
    for number in range(2, first.pages + 1):
        more = dashboard.figures(path, **params, page=str(number)).rows
        assert not set(more) & set(rows), "a row shown on two pages"
        rows.update(more)
    if column == "key_prefix":
        assert first.pages == 2 and len(first.rows) == 25 and len(rows) == KEYS
    ledger = Ledger(dashboard.db, FIRST_DAY, LAST_DAY)
    groups = ledger.query(
        f"COALESCE({column}, ''), COUNT(*), TOTAL(prompt_tokens), TOTAL(completion_tokens), TOTAL(cost), "
        "TOTAL(CASE WHEN zone = 'local' THEN prompt_tokens + completion_tokens ELSE 0 END), "
        "TOTAL(CASE WHEN zone = 'external' THEN prompt_tokens + completion_tokens ELSE 0 END)",
        f"GROUP BY COALESCE({column}, '')",
    )
    assert set(rows) == {name for name, *_ in groups}
    for name, requests, prompt, completion, cost, local, hosted in groups:
        row = rows[name]
        _same(row["requests"], requests)
        _same(row["prompt_tokens"], int(prompt))
        _same(row["completion_tokens"], int(completion))
        _same(row["cost"], cost)
        _same(row["local_tokens"], int(local))
        _same(row["hosted_tokens"], int(hosted))
    costs = [float(row["cost"]) for row in rows.values()]  # in page order
    assert costs == sorted(costs, reverse=True), "not the most expensive first, across pages"


def test_local_and_hosted_shares_equal_the_sql_sums(dashboard: Dashboard) -> None:
    page = dashboard.figures("/ui/split", period="custom", since=FIRST_DAY, until=LAST_DAY)
    ledger = Ledger(dashboard.db, FIRST_DAY, LAST_DAY)
    sides = {"local": " AND zone = 'local'", "hosted": " AND zone = 'external'", "unrouted": " AND zone IS NULL"}
    (all_requests, all_tokens, all_cost) = ledger.one("COUNT(*), TOTAL(prompt_tokens + completion_tokens), TOTAL(cost)")
    for side, where in sides.items():
        requests, tokens, cost = ledger.one("COUNT(*), TOTAL(prompt_tokens + completion_tokens), TOTAL(cost)", where)
        row = page.rows[side]
        _same(row["requests"], requests)
        _same(row["tokens"], int(tokens))
        _same(row["cost"], cost)
        _same(row["requests_share"], requests / all_requests)
        _same(row["tokens_share"], tokens / all_tokens)
        _same(row["cost_share"], cost / all_cost)


def test_savings_and_break_even_follow_from_the_sql_sums_and_the_price_sheet(dashboard: Dashboard) -> None:
    ledger = Ledger(dashboard.db, FIRST_DAY, LAST_DAY)
    prompt, completion, cost, busy = ledger.one(
        "TOTAL(prompt_tokens), TOTAL(completion_tokens), TOTAL(cost), TOTAL(compute_seconds)", " AND zone = 'local'"
    )
    # The cheapest hosted price at the local traffic's own mix of prompt and completion tokens.
    would = {t: (prompt * p["input"] + completion * p["output"]) / 1e6 for t, p in PRICES["tokens"].items()}
    target = min(would, key=would.__getitem__)
    per_token = would[target] / (prompt + completion)
    fixed = PRICES["hourly"]["embedded"] * 24
    assert fixed / per_token <= (prompt + completion) / busy * 86_400  # one machine's capacity: reachable
    for path in ("/ui/", "/ui/costs"):
        page = dashboard.figures(path, period="custom", since=FIRST_DAY, until=LAST_DAY)
        assert float(page.headline["savings"]) == pytest.approx(round(would[target] - cost, 6), abs=1e-6)
        assert int(page.headline["break_even_tokens_per_day"]) == round(fixed / per_token)
    costs = dashboard.figures("/ui/costs", period="custom", since=FIRST_DAY, until=LAST_DAY)
    _same(costs.rows["local"]["cost"], round(cost, 6))
    assert float(costs.rows[target]["local_traffic_cost"]) == pytest.approx(would[target], abs=1e-6)


def test_named_periods_cover_the_days_the_page_names(dashboard: Dashboard) -> None:
    for name in ("day", "week", "month"):
        page = dashboard.figures("/ui/", period=name)
        _check_overview(page, Ledger(dashboard.db, page.since, page.until))
        assert page.number("requests_total") >= 3  # the rows written at the start of the test, "now"


def test_a_key_bound_to_a_project_sees_that_project_only(dashboard: Dashboard) -> None:
    page = dashboard.figures("/ui/", "alpha", period="custom", since=FIRST_DAY, until=LAST_DAY)
    _check_overview(page, Ledger(dashboard.db, FIRST_DAY, LAST_DAY, project="alpha"))
    projects = dashboard.figures("/ui/projects", "alpha", period="custom", since=FIRST_DAY, until=LAST_DAY)
    assert set(projects.rows) == {"alpha"}


@pytest.mark.parametrize(
    "path", ["/ui/", "/ui/models", "/ui/projects", "/ui/keys", "/ui/targets", "/ui/split", "/ui/costs"]
)
def test_only_a_key_that_may_read_usage_sees_the_pages(dashboard: Dashboard, path: str) -> None:
    assert dashboard.get(path, "admin").status_code == 200
    assert dashboard.get(path, "viewer").status_code == 200
    refused = dashboard.get(path, "developer")
    assert refused.status_code == 403 and "may not read usage" in refused.text
    anonymous = dashboard.get(path, None)
    assert anonymous.status_code == 401 and 'action="/ui/login"' in anonymous.text


def test_with_auth_off_on_loopback_the_dashboard_is_open(tmp_path: Path) -> None:
    with dashboard_server(tmp_path, auth="off") as open_one:
        page = open_one.figures("/ui/", None, period="custom", since=FIRST_DAY, until=LAST_DAY)
        _check_overview(page, Ledger(open_one.db, FIRST_DAY, LAST_DAY))
        # A key that is sent is still checked (its role decides), as on the API.
        assert open_one.get("/ui/", "developer").status_code == 403


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "year"}, "is not one of day, week, month, custom"),
        ({"period": "custom", "since": "2025-13-01"}, "is not a date"),
        ({"period": "custom", "since": "2025-04-02", "until": "2025-04-01"}, "is before since"),
        ({"period": "custom", "since": "1900-01-01", "until": "2025-01-01"}, "longer than"),
        ({"model": "smol"}, "unknown filter 'model'"),
        ({"page": "0"}, "is not a page number"),
        ({"page": "99"}, "past the last page"),
    ],
)
def test_bad_filters_are_a_400_page_naming_the_problem(
    dashboard: Dashboard, params: dict[str, str], message: str
) -> None:
    for path in ("/ui/", "/ui/keys"):
        response = dashboard.get(path, **params)
        assert response.status_code == 400, response.text
        assert message in html.unescape(response.text)


def test_the_roll_up_migration_fills_errors_and_keys_from_the_rows_already_written(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from enclave.config import LedgerConfig, PricesConfig
    from enclave.ledger.dashboard import Scope, UsageReports
    from enclave.ledger.period import Period
    from enclave.ledger.recorder import Recorder
    from enclave.store.db import MIGRATIONS, migrate, open_engine

    engine = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    recorder = Recorder(engine, LedgerConfig(batch=1000))
    for row in usage_rows(at_us("2025-04-01T12:00:00")):
        recorder.record(row)
    assert recorder.flush_once()
    reports = UsageReports(engine, PricesConfig())
    scope = Scope(Period(dt.date(2025, 3, 29), dt.date(2025, 4, 3)))
    written = (reports.overview(scope), reports.breakdown(scope, "key", 1), reports.breakdown(scope, "key", 2))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    migrate(engine)  # up again: the roll-ups are filled from the usage rows
    assert (reports.overview(scope), reports.breakdown(scope, "key", 1), reports.breakdown(scope, "key", 2)) == written
    assert written[0].errors > 0 and written[2].rows
    engine.dispose()
