"""enclave models list | show NAME: chat and embedding models alike."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from enclave.cli.common import ConfigOption, fail, settings_or_exit
from enclave.config import ModelConfig, Settings
from enclave.engines.base import ModelInfo
from enclave.engines.catalog import inspect_model
from enclave.errors import EnclaveError

app = typer.Typer(help="Inspect the configured models.", no_args_is_help=True)
out = Console(highlight=False)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _params(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def _inspect(config: ModelConfig, settings: Settings) -> ModelInfo:
    try:
        return inspect_model(config, settings.data_dir)
    except EnclaveError as exc:
        raise fail(exc.message) from exc


@app.command("list")
def list_models(config: ConfigOption = None) -> None:
    """List the configured models with their type, size, quantization, architecture and context."""
    settings = settings_or_exit(config)
    table = Table(title="models")
    for column in ("name", "type", "aliases", "architecture", "parameters", "quantization", "size", "context"):
        table.add_column(column)
    for model in settings.models:
        info = _inspect(model, settings)
        table.add_row(
            info.name,
            model.type,
            ", ".join(info.aliases),
            info.architecture,
            _params(info.parameters),
            info.quantization,
            _size(info.size_bytes),
            str(info.context),
        )
    out.print(table)


@app.command("show")
def show_model(
    name: Annotated[str, typer.Argument(help="Model name or alias.")],
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show everything known about one model."""
    settings = settings_or_exit(config)
    match = next((m for m in settings.models if name in m.names), None)
    if match is None:
        known = ", ".join(n for m in settings.models for n in m.names)
        raise fail(f"no model named {name!r} (configured: {known})")
    info = _inspect(match, settings)
    fields = {
        "name": info.name,
        "type": match.type,
        "aliases": list(info.aliases),
        "source": info.source,
        "architecture": info.architecture,
        "description": info.description,
        "parameters": info.parameters,
        "quantization": info.quantization,
        "size_bytes": info.size_bytes,
        "context": info.context,
        "context_train": info.context_train,
    }
    if match.type == "chat":  # an embedding model reads no conversation
        fields["chat_template"] = "from the model file" if info.chat_template else "ChatML (the file has none)"
    if as_json:
        out.print_json(json.dumps(fields))
        return
    table = Table(show_header=False, title=info.name)
    table.add_column(style="bold")
    table.add_column()
    for key, value in fields.items():
        shown = _size(value) if key == "size_bytes" and isinstance(value, int) else value
        table.add_row(key, ", ".join(shown) if isinstance(shown, list) else str(shown))
    out.print(table)
