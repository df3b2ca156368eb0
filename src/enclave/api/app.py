"""The FastAPI application: routes, error handlers, and the gateway's lifetime."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from enclave import __version__
from enclave.access.oidc import OidcProvider
from enclave.api import admin, chat, completions, embeddings, guard, models, system
from enclave.api.drain import Drain, DrainGate
from enclave.api.errors import install_error_handlers
from enclave.api.request_size import BodyLimit
from enclave.assembly import build_gateway
from enclave.config import Settings
from enclave.controls import requires_auth
from enclave.gateway import Gateway
from enclave.ui import login, pages, sso
from enclave.ui.render import STATIC


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
