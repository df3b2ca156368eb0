"""What every command needs: the configuration, read once, and errors turned into exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from enclave.config import Settings, load_settings
from enclave.errors import ConfigError

err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Configuration file (default: $ENCLAVE_CONFIG, else ./enclave.yaml).",
                 dir_okay=False),
]


def settings_or_exit(path: Path | None) -> Settings:
    """The validated settings; an invalid file prints what is wrong and exits with status 2."""
    try:
        return load_settings(path)
    except ConfigError as exc:
        err.print(f"[red]invalid configuration[/red]\n{exc}", markup=True)
        raise typer.Exit(2) from exc


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)
