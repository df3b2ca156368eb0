"""enclave route list | explain: what the policy would do, without sending anything anywhere."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from enclave.cli.common import ConfigOption, fail, settings_or_exit
from enclave.config import DATA_CLASSES
from enclave.errors import EnclaveError
from enclave.guard.actions import ActionTable
from enclave.guard.findings import GuardReport
from enclave.routing.capabilities import CAPABILITIES, Capability, ordered
from enclave.routing.policy import RequestFacts, Router

app = typer.Typer(help="Inspect routes and the routing policy.", no_args_is_help=True)
out = Console(highlight=False)


@app.command("list")
def list_routes(config: ConfigOption = None) -> None:
    """Every public model name with its targets, in order, and their trust zones."""
    router = Router(settings_or_exit(config))
    table = Table(title="routes")
    for column in ("model", "aliases", "targets (in order)"):
        table.add_column(column)
    for route in router.table.routes():
        targets = ", ".join(f"{t} ({t.zone})" for t in route.targets)
        table.add_row(route.name, ", ".join(route.aliases), targets)
    out.print(table)


def _needs(value: str | None) -> frozenset[Capability]:
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    if unknown := [n for n in names if n not in CAPABILITIES]:
        raise fail(f"unknown capability {', '.join(unknown)}; known: {', '.join(CAPABILITIES)}", code=2)
    return frozenset(n for n in CAPABILITIES if n in names)


@app.command("explain")
def explain(
    model: Annotated[str, typer.Option(help="Model name or alias the request would ask for.")],
    data_class: Annotated[str | None, typer.Option(help=f"One of {', '.join(DATA_CLASSES)}.")] = None,
    project: Annotated[str | None, typer.Option(help="Project the request would come from.")] = None,
    prompt_chars: Annotated[int, typer.Option(min=0, help="Size of the prompt in characters.")] = 0,
    needs: Annotated[
        str | None,
        typer.Option(help=f"What the request needs of its target, comma-separated: {', '.join(CAPABILITIES)}."),
    ] = None,
    found: Annotated[
        str | None,
        typer.Option(help="Finding types the guard would find, comma-separated (PERSON,ORGANIZATION,...)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Show which rule a request would hit, where it would go, and what was excluded and why."""
    if data_class is not None and data_class not in DATA_CLASSES:
        raise fail(f"data class must be one of {', '.join(DATA_CLASSES)}", code=2)
    wanted = _needs(needs)
    settings = settings_or_exit(config)
    router = Router(settings)
    try:
        guard = None
        if found:
            # The guard's verdict on such findings, as the gateway reaches it (GuardBlocked for a blocked type).
            counts = {t.strip(): 1 for t in found.split(",") if t.strip()}
            verdict = ActionTable(settings.guard).verdict(GuardReport(counts=counts), project)
            guard = verdict.describe()
            if verdict.data_class is not None:
                data_class = max(data_class or router.default_data_class, verdict.data_class, key=DATA_CLASSES.index)
        decision = router.decide(RequestFacts(model, data_class, project, prompt_chars, needs=wanted, guard=guard))
    except EnclaveError as exc:
        param = f", param {exc.param}" if exc.param else ""
        out.print(f"[bold red]refused[/bold red] ({exc.status} {exc.code or exc.type}{param}): {exc.message}")
        raise typer.Exit(1) from exc
    out.print(f"model       {decision.model}")
    out.print(f"data class  {decision.data_class}")
    if wanted:
        out.print(f"needs       {', '.join(ordered(wanted))}")
    out.print(f"rule        {decision.rule}")
    out.print(f"reason      {decision.reason}")
    if decision.guard is not None:
        out.print(f"guard       {decision.guard}")
    out.print("targets     " + " -> ".join(f"{t} ({t.zone})" for t in decision.targets))
    for target, why in decision.excluded:
        out.print(f"excluded    {target} ({target.zone}): {why}")
