"""The FastAPI application: routes, error handlers, and the gateway's lifetime."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from enclave import __version__
from enclave.access.oidc import OidcProvider
from enclave.access.sessions import Sessions
from enclave.api import admin, chat, completions, embeddings, guard, models, system
from enclave.api.drain import Drain, DrainGate
from enclave.api.errors import install_error_handlers
from enclave.api.request_size import BodyLimit
from enclave.config import Settings
from enclave.controls import open_controls, requires_auth
from enclave.engines.catalog import load_engines
from enclave.gateway import Gateway
from enclave.gateway.dispatch import Dispatcher
from enclave.guard.scanner import Guard
from enclave.ledger.dashboard import UsageReports
from enclave.routing.policy import Router
from enclave.ui import login, pages, sso
from enclave.ui.render import STATIC


async def build_gateway(settings: Settings, auth_required: bool = False) -> Gateway:
    """Open the store and load every configured model (both off the event loop) into a gateway."""
    controls = await asyncio.to_thread(open_controls, settings, auth_required)
    engines = await asyncio.to_thread(load_engines, settings)
    dispatcher = Dispatcher(engines.chat, {p.name: p for p in settings.providers}, engines.embedding)
    controls.recorder.start()
    gateway = Gateway(
        Router(settings),
        dispatcher,
        Guard(settings.guard),
        access=controls.access,
        accounting=controls.accounting,
        reports=UsageReports(controls.engine, settings.prices),
        sessions=Sessions(controls.engine, settings.dashboard),
    )
    recorder = controls.recorder
    gateway.metrics.watch_ledger(lambda: recorder.pending, lambda: dict(recorder.set_aside))
    return gateway


def create_app(settings: Settings, gateway: Gateway | None = None, auth_required: bool | None = None) -> FastAPI:
    """An app serving ``gateway``, or one built from ``settings`` at start-up and closed at shutdown.

    ``auth_required`` defaults to what ``auth.mode`` says for the configured host."""
    required = auth_required if auth_required is not None else requires_auth(settings, settings.server.host)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = gateway is None
        app.state.gateway = gateway or await build_gateway(settings, required)
        app.state.started = int(time.time())
        # Everything built so far (models, libraries, the app) lives as long as the process: out of the
        # collector's sight, full collections stay short and stop showing up in the latency tail.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if owned:
                await app.state.gateway.close()

    app = FastAPI(title="enclave", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.body_limit)
    # Outermost: a draining server refuses before anything else runs, and counts every request in flight.
    app.state.drain = Drain()
    app.add_middleware(DrainGate, drain=app.state.drain)
    for module in (chat, completions, embeddings, guard, models, system, admin):
        app.include_router(module.router)
    # The usage dashboard: its pages, and its script and chart library, shipped in the package (no CDN).
    app.include_router(login.router)
    app.include_router(sso.router)
    app.state.sso = OidcProvider(settings.sso) if settings.sso is not None else None
    app.include_router(pages.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    return app
