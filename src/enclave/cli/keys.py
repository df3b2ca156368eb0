"""enclave keys create | list | revoke: API keys, straight in the store (this is how the first admin key is
made: there is no default password)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from enclave.access.roles import ROLES
from enclave.cli.common import ConfigOption, cli_actor, directory_or_exit, fail, time_text
from enclave.errors import EnclaveError
from enclave.store.db import now_us

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
out = Console(highlight=False)


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="What the key is for (shown in listings).")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "developer",
    project: Annotated[str | None, typer.Option(help="Project the key belongs to.")] = None,
    expires_in_days: Annotated[
        float | None, typer.Option(min=0.0001, max=36_500, help="Days until the key expires.")
    ] = None,
    rpm: Annotated[int | None, typer.Option(min=1, help="Requests per minute for this key.")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="Tokens per minute for this key.")] = None,
    config: ConfigOption = None,
) -> None:
    """Create a key and print it once: only its hash is stored, so it cannot be shown again."""
    expires = now_us() + int(expires_in_days * 86_400e6) if expires_in_days else None
    try:
        key, info = directory_or_exit(config).create_key(cli_actor(), name, role, project, expires, rpm, tpm)
    except EnclaveError as exc:
        raise fail(exc.message) from exc
    out.print(key, soft_wrap=True)
    Console(stderr=True, highlight=False).print(
        f"[dim]{info.prefix}: role {info.role}"
        f"{f', project {info.project}' if info.project else ''}. Store it now: it is not shown again.[/dim]"
    )


@app.command("list")
def list_keys(config: ConfigOption = None) -> None:
    """Every key by prefix, with its role, project, limits and state (never the key itself)."""
    now = now_us()
    table = Table(title="API keys")
    for column in ("prefix", "name", "role", "project", "rpm", "tpm", "created", "expires", "state"):
        table.add_column(column)
    for info in directory_or_exit(config).list_keys():
        table.add_row(
            info.prefix,
            info.name,
            info.role,
            info.project or "",
            str(info.rpm or ""),
            str(info.tpm or ""),
            time_text(info.created_us),
            time_text(info.expires_us),
            info.state(now),
        )
    out.print(table)


@app.command("revoke")
def revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix, e.g. enc_1a2b3c4d.")], config: ConfigOption = None
) -> None:
    """Revoke a key: refused at once by this store's servers (within auth.cache_seconds)."""
    try:
        info = directory_or_exit(config).revoke_key(cli_actor(), prefix)
    except EnclaveError as exc:
        raise fail(exc.message) from exc
    out.print(f"{info.prefix} revoked")
