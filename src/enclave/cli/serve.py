"""enclave serve: the OpenAI-compatible HTTP server."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
import uvicorn

from enclave.api.app import create_app
from enclave.cli.common import ConfigOption, fail, settings_or_exit
from enclave.controls import is_loopback, requires_auth


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log one line per HTTP request.")] = False,
) -> None:
    """Serve the configured models (by default the embedded SmolLM2-135M) over an OpenAI-compatible API."""
    settings = settings_or_exit(config)
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    auth_required = requires_auth(settings, host)
    if not auth_required and not is_loopback(host) and not settings.server.allow_unauthenticated_remote:
        raise fail(
            f"refusing to listen on {host} with auth.mode: off. Without API keys the only safe exposure is "
            "loopback; put it behind an authenticating proxy and set server.allow_unauthenticated_remote: "
            "true in enclave.yaml to listen wider anyway.",
            code=2,
        )
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The ledger writer and the engine run in threads; a short switch interval lets the event loop take the GIL
    # back within half a millisecond instead of five, which is what keeps a flush out of the latency tail.
    sys.setswitchinterval(0.0005)
    uvicorn.run(
        create_app(settings, auth_required=auth_required),
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=30,
    )
