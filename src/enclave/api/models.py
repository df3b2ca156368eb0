"""GET /v1/models and /v1/models/{name}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from enclave.engines.base import ModelInfo
from enclave.gateway import Gateway
from enclave.routing.table import Route

router = APIRouter()


def _card(route: Route, info: ModelInfo, created: int) -> dict[str, Any]:
    card: dict[str, Any] = {
        "id": route.name,
        "object": "model",
        "created": created,
        "owned_by": "enclave",
        "aliases": list(route.aliases),
        "targets": [{"target": str(t), "zone": t.zone} for t in route.targets],
    }
    if info.context:  # known for embedded models only
        card.update(context_length=info.context, architecture=info.architecture, quantization=info.quantization)
    return card


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    gateway: Gateway = request.app.state.gateway
    created = request.app.state.started
    return {"object": "list", "data": [_card(route, info, created) for route, info in gateway.models()]}


@router.get("/v1/models/{name:path}")
async def get_model(name: str, request: Request) -> dict[str, Any]:
    gateway: Gateway = request.app.state.gateway
    route = gateway.router.table.resolve(name)
    return _card(route, gateway.dispatcher.engine(route.targets[0]).info, request.app.state.started)
