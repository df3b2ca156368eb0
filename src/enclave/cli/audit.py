"""enclave audit verify | list: check the hash chain and its signed checkpoints; read the log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from enclave.audit.checkpoints import Checkpoints, checkpoint_path, signing_key
from enclave.cli.common import ConfigOption, settings_or_exit, store_or_exit, time_text
from enclave.store.schema import audit_log

app = typer.Typer(help="Verify and read the tamper-evident audit log.", no_args_is_help=True)
out = Console(highlight=False)


@app.command("verify")
def verify(
    checkpoints: Annotated[Path | None, typer.Option(help="Checkpoint file (default: the configured one).")] = None,
    config: ConfigOption = None,
) -> None:
    """Recompute every link of the chain and check it against every signed checkpoint; exit 1 on any problem,
    naming the entry where it is."""
    settings = settings_or_exit(config)
    engine = store_or_exit(settings)
    signed = Checkpoints(checkpoints or checkpoint_path(settings), signing_key(settings))
    result = signed.verify(engine)
    for problem in result.problems:
        out.print(f"[red]entry {problem.seq}[/red] {problem.kind}: {problem.detail}")
    status = "[green]intact[/green]" if result.ok else f"[red]{len(result.problems)} problem(s)[/red]"
    out.print(f"audit log {status}: {result.entries} entries, head {result.head_hash[:16]}…, "
              f"{result.checkpoints} signed checkpoint(s) checked")
    if not result.ok:
        raise typer.Exit(1)


@app.command("list")
def list_entries(
    last: Annotated[int, typer.Option(min=1, help="How many of the latest entries.")] = 20,
    config: ConfigOption = None,
) -> None:
    """The latest entries, oldest first."""
    engine = store_or_exit(settings_or_exit(config))
    query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(last)
    with engine.connect() as connection:
        rows = list(reversed(connection.execute(query).all()))
    table = Table(title="audit log")
    for column in ("seq", "time", "actor", "project", "action", "resource", "outcome", "details"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row.seq), time_text(row.at_us), row.actor, row.project or "", row.action,
                      row.resource or "", row.outcome, row.details)
    out.print(table)
