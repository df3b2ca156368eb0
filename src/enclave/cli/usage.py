"""enclave usage: what was used, by whom, where, and what it cost, from the ledger."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from enclave.cli.common import ConfigOption, fail, settings_or_exit, store_or_exit
from enclave.errors import InvalidRequest
from enclave.ledger.summary import DIMENSIONS, UsageFilter, dimensions, summarize

out = Console(highlight=False)


def usage(
    by: Annotated[str, typer.Option(help=f"Group by any of: {', '.join(DIMENSIONS)}.")] = "project,model,zone,day",
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (UTC).")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
) -> None:
    """Requests, tokens, latency and cost from the usage ledger, grouped as asked."""
    settings = settings_or_exit(config)
    try:
        grouping = dimensions(by)
    except InvalidRequest as exc:
        raise fail(exc.message, code=2) from exc
    rows = summarize(store_or_exit(settings), grouping, UsageFilter(since, until, project))
    if as_json:
        out.print_json(json.dumps({"currency": settings.prices.currency, "data": rows}))
        return
    table = Table(title=f"usage ({settings.prices.currency})")
    for column in [
        *grouping,
        "requests",
        "errors",
        "prompt tok",
        "completion tok",
        "cost",
        "busy s",
        "avg latency ms",
        "avg ttft ms",
    ]:
        table.add_column(column, justify="left" if column in grouping else "right")
    for row in rows:
        table.add_row(
            *[str(row[d] or "—") for d in grouping],
            str(row["requests"]),
            str(row["errors"]),
            f"{row['prompt_tokens']:,}",
            f"{row['completion_tokens']:,}",
            f"{row['cost']:.6f}",
            f"{row['compute_seconds']:.2f}",
            f"{row['avg_latency_ms']:.1f}",
            "—" if row["avg_ttft_ms"] is None else f"{row['avg_ttft_ms']:.1f}",
        )
    if not rows:
        out.print("no usage recorded for this selection")
        return
    out.print(table)
