"""GET /v1/models and /v1/models/{name}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from enclave.access.keys import Principal
from enclave.access.roles import Permission
from enclave.api.auth import require
from enclave.engines.base import ModelInfo
from enclave.errors import ModelNotFound
from enclave.gateway import Gateway
from enclave.routing.table import Route

router = APIRouter()


def _card(route: Route, info: ModelInfo, created: int) -> dict[str, Any]:
    card: dict[str, Any] = {
        "id": route.name,
        "object": "model",
        "created": created,
        "owned_by": "enclave",
        "type": route.type,  # chat (chat and text completions) or embedding (/v1/embeddings)
        "aliases": list(route.aliases),
        "targets": [{"target": str(t), "zone": t.zone} for t in route.targets],
        "context_length": info.context or None,  # known for embedded models only
    }
    if info.context:
        card.update(architecture=info.architecture, quantization=info.quantization)
    return card


_caller = require(Permission.INFER)


@router.get("/v1/models")
async def list_models(request: Request, caller: Annotated[Principal, Depends(_caller)]) -> dict[str, Any]:
    """The models this caller may use (a project that limits its models sees only those)."""
    gateway: Gateway = request.app.state.gateway
    created = request.app.state.started
    project = caller.project
    cards = [
        _card(route, info, created)
        for route, info in gateway.models()
        if project is None or project.allows_model(route.names)
    ]
    return {"object": "list", "data": cards}


@router.get("/v1/models/{name:path}")
async def get_model(name: str, request: Request, caller: Annotated[Principal, Depends(_caller)]) -> dict[str, Any]:
    gateway: Gateway = request.app.state.gateway
    route, info = gateway.model(name)
    if caller.project is not None and not caller.project.allows_model(route.names):
        raise ModelNotFound(f"The model '{name}' does not exist.", param="model")
    return _card(route, info, request.app.state.started)
