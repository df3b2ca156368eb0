"""The one place a gateway is put together from configuration: the store and controls, the engines, the
router, the guard and the dashboard's readers. The server, `enclave chat` and the tests all build it here."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from enclave.access.sessions import Sessions
from enclave.config import Settings
from enclave.controls import open_controls
from enclave.engines.catalog import EngineKey, load_engines
from enclave.gateway import Gateway
from enclave.gateway.dispatch import Dispatcher
from enclave.guard.scanner import Guard
from enclave.ledger.dashboard import UsageReports
from enclave.routing.policy import Router
from enclave.routing.table import RouteTable, Target

E = TypeVar("E")


def _targets(table: RouteTable, engines: dict[EngineKey, E]) -> dict[Target, E]:
    """The engines, named as the configuration names them, under the targets routing knows them as (with
    their zone and capabilities): engines know nothing of routing."""
    return {table.target(provider, model): engine for (provider, model), engine in engines.items()}


async def build_gateway(settings: Settings, auth_required: bool = False) -> Gateway:
    """Open the store and load every configured model (both off the event loop) into a gateway."""
    controls = await asyncio.to_thread(open_controls, settings, auth_required)
    engines = await asyncio.to_thread(load_engines, settings)
    router = Router(settings)
    dispatcher = Dispatcher(
        _targets(router.table, engines.chat),
        {p.name: p for p in settings.providers},
        _targets(router.table, engines.embedding),
    )
    controls.recorder.start()
    gateway = Gateway(
        router,
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
