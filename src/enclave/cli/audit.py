"""enclave audit verify | list | keygen | migrate: check the log, read it, make its signing key, upgrade it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from enclave.audit.checkpoints import Checkpoints, checkpoint_places
from enclave.audit.migrate import legacy_hmac_key, migrate_log
from enclave.audit.signing import PublicKey, generate, key_path, load_signing_key, pinned_keys
from enclave.audit.verify import KnownHead, verify_log
from enclave.cli.common import ConfigOption, cli_actor, fail, settings_or_exit, store_or_exit, time_text
from enclave.config import Settings
from enclave.errors import ConfigError, EnclaveError
from enclave.store.schema import audit_log

app = typer.Typer(help="Verify and read the tamper-evident audit log.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)


def _local_public_key(settings: Settings) -> PublicKey | None:
    """The public half of this machine's signing key, used only when nothing is pinned and no checkpoint
    names a key (a log without checkpoints yet)."""
    try:
        return load_signing_key(settings, create=False).public
    except ConfigError:
        pass
    public = key_path(settings).with_name(key_path(settings).name + ".pub")
    try:
        return PublicKey.parse(public.read_text().strip())
    except (OSError, ValueError):
        return None


@app.command("verify")
def verify(
    checkpoints: Annotated[
        list[Path] | None,
        typer.Option("--checkpoints", help="A checkpoint file (repeat for each place; default: the configured ones)."),
    ] = None,
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            "--public-key", help="A trusted public key, ed25519:... (repeatable; default: audit.public_keys)."
        ),
    ] = None,
    new: Annotated[bool, typer.Option("--new", help="The log is new: no checkpoints yet is not a problem.")] = False,
    known_head: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH printed by an earlier verify: fail if the log no longer contains it (a rollback)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Recompute every link and seal of the chain and check every signed checkpoint in every place; exit 1 on
    any problem, naming the entry where it is."""
    settings = settings_or_exit(config)
    try:
        pinned = tuple(PublicKey.parse(k) for k in public_key) if public_key else pinned_keys(settings)
        known = KnownHead.parse(known_head) if known_head else None
    except ValueError as exc:
        raise fail(str(exc), code=2) from exc
    places = Checkpoints(checkpoints or checkpoint_places(settings), pinned=pinned)
    engine = store_or_exit(settings)
    result = verify_log(engine, places, allow_new=new, known_head=known, fallback=_local_public_key(settings))
    for problem in result.problems:
        out.print(f"[red]entry {problem.seq}[/red] {problem.kind}: {problem.detail}")
    for warning in result.warnings:
        out.print(f"[yellow]note:[/yellow] {warning}")
    status = "[green]intact[/green]" if result.ok else f"[red]{len(result.problems)} problem(s)[/red]"
    last = f", the last signed {time_text(result.last_checkpoint_us)}" if result.last_checkpoint_us else ""
    out.print(
        f"audit log {status}: {result.entries} entries, head {result.head_seq}:{result.head_hash}, "
        f"{result.checkpoints} signed checkpoint(s) checked{last}"
    )
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
        table.add_row(
            str(row.seq),
            time_text(row.at_us),
            row.actor,
            row.project or "",
            row.action,
            row.resource or "",
            row.outcome,
            row.details,
        )
    out.print(table)


@app.command("keygen")
def keygen(
    path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where the private key goes (default: audit.signing_key_file, else "
            "$XDG_CONFIG_HOME/enclave/audit-signing.key).",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Create the Ed25519 key pair that signs the audit log, and print the public key to pin in enclave.yaml.
    Never overwrites a key."""
    settings = settings_or_exit(config)
    target = path or key_path(settings)
    try:
        key = generate(target)
    except FileExistsError as exc:
        raise fail(f"{target} exists already; a signing key is never overwritten") from exc
    except OSError as exc:
        raise fail(f"cannot write {target}: {exc.strerror}") from exc
    out.print(f"private key: {target} (mode 0600; keep it off the database's host and out of the data folder)")
    out.print(f"public key:  {key.public.text}")
    out.print(
        f"pin it in enclave.yaml:\n  audit:\n    signing_key_file: {target}\n    public_keys: ['{key.public.text}']"
    )


@app.command("migrate")
def migrate(config: ConfigOption = None) -> None:
    """Seal a log written before Ed25519 seals, once: every link (and every old HMAC checkpoint, when the old
    key is still there) is checked first; nothing is changed when something does not match."""
    from enclave.controls import checkpoints

    settings = settings_or_exit(config)
    try:
        signed = checkpoints(settings)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    engine = store_or_exit(settings)
    try:
        done = migrate_log(engine, signed, legacy_hmac_key(settings), cli_actor())
    except EnclaveError as exc:
        raise fail(exc.message) from exc
    if not done.sealed:
        out.print("nothing to migrate: every entry is sealed")
        return
    out.print(
        f"sealed entries 1..{done.sealed} with {signed.key.public.text if signed.key else ''}; "
        f"{done.legacy_checked} old checkpoint(s) checked"
    )
    if done.legacy_unchecked:
        out.print(
            f"[yellow]note:[/yellow] {done.legacy_unchecked} old checkpoint(s) could not be checked: the "
            "old HMAC key (data_dir/audit.key or $ENCLAVE_AUDIT_KEY) is gone"
        )
