"""What every command needs: the configuration, read once, and errors turned into exit codes."""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

if TYPE_CHECKING:
    from enclave.access.directory import Directory

from enclave.config import Settings, load_settings
from enclave.errors import ConfigError, EnclaveError

err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Configuration file (default: $ENCLAVE_CONFIG, else ./enclave.yaml).", dir_okay=False
    ),
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


def cli_actor() -> str:
    """Who the audit log names for a change made from this command line."""
    return f"cli:{getpass.getuser()}"


def store_or_exit(settings: Settings) -> Engine:
    from enclave.controls import open_store

    try:
        return open_store(settings)
    except (EnclaveError, ConfigError) as exc:
        raise fail(str(exc), code=2 if isinstance(exc, ConfigError) else 1) from exc


def directory_or_exit(config: Path | None) -> Directory:
    """Keys and projects in the configured store; every change made through it is signed in a checkpoint."""
    from enclave.access.directory import Directory
    from enclave.controls import checkpoints

    settings = settings_or_exit(config)
    try:
        signed = checkpoints(settings)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    return Directory(store_or_exit(settings), signed)


def time_text(at_us: int | None) -> str:
    return "" if at_us is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(at_us / 1e6)) + "Z"
