"""enclave guard scan FILE|-: what the privacy guard finds in a text."""

from __future__ import annotations

import json
import re
import sys
from bisect import bisect_left
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from enclave.cli.common import ConfigOption, fail, settings_or_exit
from enclave.errors import GuardLimitExceeded
from enclave.guard.scanner import Guard

app = typer.Typer(help="The privacy guard.", no_args_is_help=True)
out = Console(highlight=False)


def _masked(value: str) -> str:
    """Enough to recognise the value on screen, not enough to copy it from a screenshot or a log."""
    if len(value) <= 6:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


@app.command("scan")
def scan(
    source: Annotated[str, typer.Argument(help="A text file, or - for standard input.")],
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (types and positions, no values).")] = False,
) -> None:
    """List the sensitive values found in a text: type, line, column, and a masked preview."""
    guard = Guard(settings_or_exit(config).guard)
    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {source}: {exc}") from exc
    try:
        report = guard.scan([text])
    except GuardLimitExceeded as exc:
        raise fail(exc.message) from exc
    if as_json:
        print(
            json.dumps(
                {
                    "findings": [{"type": f.entity_type, "start": f.start, "end": f.end} for f in report.findings],
                    "counts": report.counts,
                    "data_class": report.data_class,
                }
            )
        )
        return
    if not report.findings:
        out.print("no sensitive data found")
        return
    table = Table(title=f"{len(report.findings)} findings, data class {report.data_class}")
    for column in ("type", "line", "column", "value (masked)"):
        table.add_column(column)
    breaks = [m.start() for m in re.finditer("\n", text)]  # counted once, not again for every finding
    for finding in report.findings:
        above = bisect_left(breaks, finding.start)  # the lines before the finding's
        start_of_line = breaks[above - 1] + 1 if above else 0
        table.add_row(
            finding.entity_type,
            str(above + 1),
            str(finding.start - start_of_line + 1),
            _masked(text[finding.start : finding.end]),
        )
    out.print(table)
