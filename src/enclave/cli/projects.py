"""enclave projects create | list | update: projects and their policy defaults, limits, budget, retention."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from enclave.access.directory import Directory
from enclave.access.keys import Project
from enclave.access.specs import ProjectChanges, ProjectSpec
from enclave.cli.common import ConfigOption, cli_actor, directory_or_exit, fail
from enclave.config import describe_validation_error
from enclave.errors import EnclaveError

app = typer.Typer(help="Create, list and change projects.", no_args_is_help=True)
out = Console(highlight=False)

DataClassOption = Annotated[str | None, typer.Option(help="Floor data class of the project's requests.")]
ModelsOption = Annotated[str | None, typer.Option(help="Comma-separated models the project may use.")]
ZonesOption = Annotated[str | None, typer.Option(help="Comma-separated zones allowed: local, external.")]
RpmOption = Annotated[int | None, typer.Option(help="Requests per minute for the whole project.")]
TpmOption = Annotated[int | None, typer.Option(help="Tokens per minute for the whole project.")]
BudgetOption = Annotated[float | None, typer.Option(help="Monthly budget, in the price sheet's currency.")]
ActionOption = Annotated[str | None, typer.Option(help="When the budget is spent: block or warn.")]
RetentionOption = Annotated[int | None, typer.Option(help="Days to keep prompts and answers (0: never kept).")]


def _values(**options: Any) -> dict[str, Any]:
    values = {k: v for k, v in options.items() if v is not None}
    for listed in ("allowed_models", "allowed_zones"):
        if listed in values:
            values[listed] = [item.strip() for item in values[listed].split(",") if item.strip()]
    return values


def _show(rows: list[Any]) -> None:
    table = Table(title="projects")
    for column in ("name", "data class", "models", "zones", "rpm", "tpm", "budget", "on budget", "retention"):
        table.add_column(column)
    for p in rows:
        table.add_row(
            p.name,
            p.data_class or "",
            ", ".join(p.allowed_models or ("all",)),
            ", ".join(p.allowed_zones or ("all",)),
            str(p.rpm or ""),
            str(p.tpm or ""),
            "" if p.monthly_budget is None else f"{p.monthly_budget:.2f}",
            p.budget_action,
            f"{p.retention_days} d" if p.retention_days else "not kept",
        )
    out.print(table)


def _change(config: Path | None, change: Callable[[Directory, str], Project]) -> None:
    """Validate and apply one change to the store, then show the project as it now is."""
    try:
        project = change(directory_or_exit(config), cli_actor())
    except ValidationError as exc:
        raise fail(describe_validation_error("project", exc), code=2) from exc
    except EnclaveError as exc:
        raise fail(exc.message) from exc
    _show([project])


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Project name.")],
    data_class: DataClassOption = None,
    models: ModelsOption = None,
    zones: ZonesOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    budget: BudgetOption = None,
    budget_action: ActionOption = None,
    retention_days: RetentionOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a project."""
    values = _values(
        name=name,
        data_class=data_class,
        allowed_models=models,
        allowed_zones=zones,
        rpm=rpm,
        tpm=tpm,
        monthly_budget=budget,
        budget_action=budget_action,
        retention_days=retention_days,
    )
    _change(
        config, lambda directory, actor: directory.create_project(actor, ProjectSpec.model_validate(values).project())
    )


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="Project name.")],
    data_class: DataClassOption = None,
    models: ModelsOption = None,
    zones: ZonesOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    budget: BudgetOption = None,
    budget_action: ActionOption = None,
    retention_days: RetentionOption = None,
    config: ConfigOption = None,
) -> None:
    """Change the settings given; the others stay as they are."""
    values = _values(
        data_class=data_class,
        allowed_models=models,
        allowed_zones=zones,
        rpm=rpm,
        tpm=tpm,
        monthly_budget=budget,
        budget_action=budget_action,
        retention_days=retention_days,
    )
    _change(
        config,
        lambda directory, actor: directory.update_project(actor, name, ProjectChanges.model_validate(values).changes()),
    )


@app.command("list")
def list_projects(config: ConfigOption = None) -> None:
    """Every project with its settings."""
    _show(directory_or_exit(config).list_projects())
