"""enclave ledger dead-letters: the rows the database refused for what they held, set aside with the reason."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from enclave.cli.common import ConfigOption, settings_or_exit, store_or_exit, time_text
from enclave.ledger.dead_letters import list_dead_letters

app = typer.Typer(help="The usage ledger's writer: rows it set aside.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)


@app.command("dead-letters")
def dead_letters(
    after: Annotated[int, typer.Option(min=0, help="Only those after this id.")] = 0,
    limit: Annotated[int, typer.Option(min=1, help="How many, oldest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    config: ConfigOption = None,
) -> None:
    """Usage rows, audit entries and retained-prompt records the database refused (a value too long, a NUL
    character, a number out of range, a duplicate), each with the database's reason and the row as it was."""
    rows = list_dead_letters(store_or_exit(settings_or_exit(config)), after, limit)
    if as_json:
        for row in rows:
            out.print(json.dumps(row, ensure_ascii=True), markup=False)
        return
    table = Table(title=f"dead letters ({len(rows)})")
    for column in ("id", "time", "kind", "error", "row"):
        table.add_column(column)
    for row in rows:
        # Text, not markup: the reason and the row are the database's and the client's words.
        table.add_row(
            str(row["id"]),
            time_text(row["at_us"]),
            row["kind"],
            Text(row["error"]),
            Text(json.dumps(row["payload"], ensure_ascii=True)),
        )
    out.print(table)
