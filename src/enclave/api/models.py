"""GET /v1/models and /v1/models/{name}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from enclave.engines.base import ModelInfo
from enclave.gateway import Gateway

router = APIRouter()


def _card(info: ModelInfo, created: int) -> dict[str, Any]:
    return {
        "id": info.name,
        "object": "model",
        "created": created,
        "owned_by": "enclave",
        "aliases": list(info.aliases),
        "context_length": info.context,
        "architecture": info.architecture,
        "quantization": info.quantization,
    }


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    gateway: Gateway = request.app.state.gateway
    created = request.app.state.started
    return {"object": "list", "data": [_card(info, created) for info in gateway.models()]}


@router.get("/v1/models/{name:path}")
async def get_model(name: str, request: Request) -> dict[str, Any]:
    gateway: Gateway = request.app.state.gateway
    return _card(gateway.directory.resolve(name).info, request.app.state.started)
