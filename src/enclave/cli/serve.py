"""enclave serve: the OpenAI-compatible HTTP server, from its start-up checks to a drained stop.

Start-up fails early and plainly: the configuration, the model files, the audit signing key and the port are
checked before any model is loaded, and every failure is one line on stderr and exit status 1. The port is
bound first and kept (not yet listening) while models load, so a taken port costs no loading time.

Stop: SIGTERM or Ctrl-C drains. Requests in flight finish, up to ``server.drain_seconds``; new ones get 503
``shutting_down`` while the server keeps listening; at the deadline the requests left end with that error (a
stream as its error event). Then every usage row and audit entry is written and the process exits 0. A second
signal stops at once (rows are still written).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from sqlalchemy.engine import make_url

from enclave.api.app import create_app
from enclave.api.drain import Drain
from enclave.api.request_size import bounded_headers
from enclave.assembly import build_gateway
from enclave.audit.chain import AuditEntry
from enclave.cli.common import ConfigOption, err
from enclave.config import EMBEDDED_PROVIDER, Settings, load_settings
from enclave.controls import checkpoints, is_loopback, record_start, requires_auth
from enclave.engines.catalog import check_model_files
from enclave.errors import ConfigError, EnclaveError, ShuttingDown
from enclave.gateway import Gateway
from enclave.store.db import store_url

log = logging.getLogger("enclave.serve")
_ABORT_GRACE_S = 5.0  # after the deadline: for the streams ended to send their error event and be accounted


def _failure(message: str) -> typer.Exit:
    """A start-up failure: one line on stderr, exit status 1."""
    err.print(
        f"enclave: error: {'; '.join(line.strip() for line in message.splitlines() if line.strip())}",
        soft_wrap=True,
        markup=False,
    )
    return typer.Exit(1)


def _bind(host: str, port: int) -> socket.socket:
    """The listening address, taken now (listening starts once models are loaded)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


def _keys_text(settings: Settings, required: bool) -> str:
    if required:
        return "API keys required"
    return f"no API keys required (auth.mode: {settings.auth.mode}, loopback)"


def _started_line(settings: Settings, gateway: Gateway, address: str, required: bool) -> str:
    models = [
        f"{route.name} ({info.source})"
        if route.targets[0].provider == EMBEDDED_PROVIDER
        else f"{route.name} (via {route.targets[0]})"
        for route, info in gateway.models()
    ]
    store = make_url(store_url(settings)).render_as_string(hide_password=True)
    return (
        f"enclave serving http://{address}: models {', '.join(models)}; data folder {settings.data_dir}; "
        f"store {store}; {_keys_text(settings, required)}"
    )


class DrainingServer(uvicorn.Server):
    """uvicorn's server with enclave's stop: the first signal drains, a second one stops at once."""

    def __init__(
        self, config: uvicorn.Config, drain: Drain, gateway: Gateway, deadline: float, on_started: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self._drain = drain
        self._gateway = gateway
        self._deadline = deadline
        self._on_started = on_started
        self._stop_asked = False
        self._draining: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs in a signal handler: only flags here; on_tick (every 0.1 s) acts on them. The signal is not
        # raised again after serving (uvicorn's default): a drained server exits 0.
        if self._stop_asked:
            self.force_exit = self.should_exit = True
        self._stop_asked = True

    async def on_tick(self, counter: int) -> bool:
        if self._stop_asked and self._draining is None:
            self._draining = asyncio.ensure_future(self._drain_then_exit())
        return await super().on_tick(counter)

    async def _drain_then_exit(self) -> None:
        self._drain.begin()
        log.info(
            "shutting down: %d request(s) in flight get up to %.0f s to finish; new ones get 503 shutting_down",
            self._drain.in_flight,
            self._deadline,
        )
        try:
            async with asyncio.timeout(self._deadline):
                await self._drain.idle()
        except TimeoutError:
            cut = self._gateway.abort_all(
                ShuttingDown("The server shut down before this request finished (its drain deadline passed).")
            )
            log.warning("drain deadline passed: %d request(s) ended with shutting_down", cut)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_ABORT_GRACE_S):
                    await self._drain.idle()
        self.should_exit = True


async def _serve(
    settings: Settings, listener: socket.socket, auth_required: bool, log_level: str, access_log: bool
) -> int:
    try:
        gateway = await build_gateway(settings, auth_required)
    except (ConfigError, EnclaveError, OSError) as exc:
        raise _failure(str(exc)) from exc
    app = create_app(settings, gateway, auth_required)
    host, port = listener.getsockname()[:2]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def started() -> None:
        record_start(settings, gateway.accounting, auth_required)
        log.info("%s", _started_line(settings, gateway, address, auth_required))

    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        http=bounded_headers(settings.server.max_header_bytes),
        timeout_graceful_shutdown=5,
    )
    server = DrainingServer(config, app.state.drain, gateway, settings.server.drain_seconds, started)
    try:
        await server.serve(sockets=[listener])
    finally:
        cut = gateway.abort_all(ShuttingDown("The server stopped before this request finished."))
        for _ in range(int(_ABORT_GRACE_S / 0.05)):  # the ended answers account themselves as they unwind
            if not gateway.answers:
                break
            await asyncio.sleep(0.05)
        if server.started:
            gateway.accounting.audit(AuditEntry("server", "server.stop", "ok", details={"cut_short": cut}))
        await gateway.close()
    log.info("stopped; every usage row and audit entry is written")
    return 0


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log one line per HTTP request.")] = False,
) -> None:
    """Serve the configured models (by default SmolLM2-135M and all-MiniLM-L6-v2) over an OpenAI-compatible API.
    Every start-up failure is one line on stderr and exit status 1; SIGTERM drains (server.drain_seconds)."""
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise _failure(f"invalid configuration: {exc}") from exc
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    auth_required = requires_auth(settings, host)
    if not auth_required and not is_loopback(host) and not settings.server.allow_unauthenticated_remote:
        raise _failure(
            f"refusing to listen on {host} with auth.mode: off. Without API keys the only safe exposure "
            "is loopback; put it behind an authenticating proxy and set "
            "server.allow_unauthenticated_remote: true in enclave.yaml to listen wider anyway."
        )
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        check_model_files(settings)
        store_url(settings)
        listener = _bind(host, port)
    except OSError as exc:
        raise _failure(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    except (ConfigError, EnclaveError) as exc:
        raise _failure(str(exc)) from exc
    try:
        checkpoints(settings)  # the audit signing key: readable and the pinned one (created on a first start)
    except ConfigError as exc:
        listener.close()
        raise _failure(str(exc)) from exc
    # The ledger writer and the engine run in threads; a short switch interval lets the event loop take the GIL
    # back within half a millisecond instead of five, which is what keeps a flush out of the latency tail.
    sys.setswitchinterval(0.0005)
    # uvloop when installed, as uvicorn.run uses (the app is not loaded: only the loop setting is read)
    loop_factory = uvicorn.Config(app="enclave.api.app:create_app").get_loop_factory()
    with listener, asyncio.Runner(loop_factory=loop_factory) as runner:
        code = runner.run(_serve(settings, listener, auth_required, log_level, access_log))
    raise typer.Exit(code)
