"""enclave costs: what local and hosted traffic cost in a period, the savings, and the break-even volume."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from enclave.cli.common import ConfigOption, fail, settings_or_exit, store_or_exit
from enclave.errors import InvalidRequest
from enclave.ledger.costs import DEFAULT_VOLUMES, cost_report
from enclave.ledger.period import Named, period_of

out = Console(highlight=False)


def _volumes(text: str | None) -> dict[str, int]:
    if text is None:
        return DEFAULT_VOLUMES
    try:
        values = [int(float(v)) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or min(values) <= 0:
        raise fail(f"--volumes: {text!r} is not three positive token counts per day (low,medium,high)", code=2)
    return dict(zip(DEFAULT_VOLUMES, values, strict=True))


def costs(
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD, from 00:00:00 UTC.")] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day, YYYY-MM-DD, through 23:59:59 UTC (default today).")
    ] = None,
    period: Annotated[Named | None, typer.Option(help="This UTC month, ISO week or day (default: month).")] = None,
    volumes: Annotated[
        str | None, typer.Option(help="Scenario volumes, tokens per day: low,medium,high (default 1e6,1e7,1e8).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    config: ConfigOption = None,
) -> None:
    """Local and hosted tokens and cost, what each would have cost the other way, savings, utilisation and the
    break-even volume, from the usage ledger and the price sheet (see docs/cli.md for every figure)."""
    settings = settings_or_exit(config)
    scenario_volumes = _volumes(volumes)
    now = dt.datetime.now(dt.UTC)
    try:
        chosen = period_of(since, until, period, now.date())
    except InvalidRequest as exc:
        raise fail(exc.message, code=2) from exc
    report = cost_report(store_or_exit(settings), settings.prices, chosen, now, scenario_volumes)
    if as_json:
        out.print_json(json.dumps(report))
        return
    _print(report)


def _n(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _print(r: dict[str, Any]) -> None:
    c = r["currency"]
    p = r["period"]
    out.print(f"costs {p['since']} .. {p['until']} (UTC, {p['start']} included to {p['end']} excluded), {c}")
    head = Table(show_header=True)
    for column in ("", "requests", "tokens", "busy s", f"cost {c}"):
        head.add_column(column, justify="left" if not column else "right")
    local, hosted = r["local"], r["hosted"]
    head.add_row(
        "local", _n(local["requests"]), _n(local["tokens"]), _n(local["busy_seconds"], 2), _n(local["cost"], 6)
    )
    head.add_row("hosted", _n(hosted["requests"]), _n(hosted["tokens"]), "", _n(hosted["cost"], 6))
    head.add_row("total", _n(r["requests"]), _n(r["tokens"]), "", _n(r["cost"], 6))
    out.print(head)
    for provider in local["providers"]:
        out.print(
            f"local {provider['provider']}: {_n(provider['throughput_tokens_per_second'], 1)} tokens per busy second, "
            f"utilisation {_n(None if provider['utilisation'] is None else provider['utilisation'] * 100, 2)}%"
        )
    if hosted["cost_on_local"] is not None:
        out.print(f"hosted traffic on local capacity: {_n(hosted['cost_on_local'], 6)} {c}")
    else:
        out.print(f"hosted traffic on local capacity: — ({hosted['reason']})")
    if r["local_on_hosted"]:
        alt = Table(title="local traffic at hosted prices")
        for column in ("hosted price", f"per 1M {c}", f"would cost {c}", f"savings {c}", "break-even tokens/day"):
            alt.add_column(column, justify="left" if column == "hosted price" else "right")
        for a in r["local_on_hosted"]:
            alt.add_row(
                a["target"],
                _n(a["price_per_million_tokens"], 4),
                _n(a["local_traffic_cost"], 6),
                _n(a["savings"], 6),
                _n(a["break_even_tokens_per_day"]),
            )
        out.print(alt)
    if r["break_even_tokens_per_day"] is None:
        out.print(f"break-even: — ({r['reason']})")
    else:
        b = r["break_even"]
        out.print(
            f"break-even: {_n(r['break_even_tokens_per_day'])} tokens/day = {c} {_n(b['fixed_cost_per_day'], 2)} a day "
            f"({b['local_provider']} at {b['hourly']}/h) / {_n(b['hosted_price_per_million_tokens'], 4)} per 1M "
            f"tokens ({b['hosted_target']}); one machine serves up to {_n(b['capacity_tokens_per_day'])} tokens/day"
        )
    if r["scenarios"]:
        s = Table(title=f"scenarios ({c} per day)")
        for column in ("volume", "tokens/day", "hosted", "machines", "local", "cheaper", "savings"):
            s.add_column(column, justify="left" if column in ("volume", "cheaper") else "right")
        for row in r["scenarios"]:
            s.add_row(
                row["name"],
                _n(row["tokens_per_day"]),
                _n(row["hosted_cost_per_day"], 2),
                str(row["machines"]),
                _n(row["local_cost_per_day"], 2),
                row["cheaper"],
                _n(row["savings_per_day"], 2),
            )
        out.print(s)
    for title, rows in (("by project", r["by_project"]), ("by model", r["by_model"])):
        if rows:
            t = Table(title=title)
            for column in ("name", "requests", "tokens", "local tokens", "hosted tokens", f"cost {c}"):
                t.add_column(column, justify="left" if column == "name" else "right")
            for row in rows:
                t.add_row(
                    row["name"] or "—",
                    _n(row["requests"]),
                    _n(row["tokens"]),
                    _n(row["local_tokens"]),
                    _n(row["hosted_tokens"]),
                    _n(row["cost"], 6),
                )
            out.print(t)
    if not r["requests"]:
        out.print("no usage recorded in this period")
