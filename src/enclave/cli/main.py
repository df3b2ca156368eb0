"""The ``enclave`` command."""

from __future__ import annotations

import typer

from enclave.cli import audit, chat, costs, guard, keys, ledger, models, projects, route, serve, usage

app = typer.Typer(
    name="enclave",
    help="Serve open-weight models behind an OpenAI-compatible API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(serve.serve)
app.command()(chat.chat)
app.add_typer(models.app, name="models")
app.add_typer(route.app, name="route")
app.add_typer(guard.app, name="guard")
app.add_typer(keys.app, name="keys")
app.add_typer(projects.app, name="projects")
app.command()(usage.usage)
app.command()(costs.costs)
app.add_typer(audit.app, name="audit")
app.add_typer(ledger.app, name="ledger")

if __name__ == "__main__":
    app()
