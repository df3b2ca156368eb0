"""The FastAPI application: routes, error handlers, and the gateway's lifetime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from enclave import __version__
from enclave.api import chat, completions, guard, models, system
from enclave.api.errors import install_error_handlers
from enclave.config import Settings
from enclave.engines.catalog import load_engines
from enclave.gateway import Gateway
from enclave.gateway.dispatch import Dispatcher
from enclave.guard.scanner import Guard
from enclave.routing.policy import Router


async def build_gateway(settings: Settings) -> Gateway:
    """Load every configured model (off the event loop: loading reads the weights) into a gateway."""
    engines = await asyncio.to_thread(load_engines, settings)
    dispatcher = Dispatcher(engines, {p.name: p for p in settings.providers})
    return Gateway(Router(settings), dispatcher, Guard(settings.guard))


def create_app(settings: Settings, gateway: Gateway | None = None) -> FastAPI:
    """An app serving ``gateway``, or one built from ``settings`` at start-up and closed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = gateway is None
        app.state.gateway = gateway or await build_gateway(settings)
        app.state.started = int(time.time())
        try:
            yield
        finally:
            if owned:
                await app.state.gateway.close()

    app = FastAPI(title="enclave", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    for module in (chat, completions, guard, models, system):
        app.include_router(module.router)
    return app
