"""The ``enclave`` command."""

from __future__ import annotations

import typer

from enclave.cli import chat, guard, models, route, serve

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

if __name__ == "__main__":
    app()
