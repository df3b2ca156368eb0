"""GET /health and GET /metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from enclave.access.roles import Permission
from enclave.api.auth import require
from enclave.config import EMBEDDED_PROVIDER
from enclave.gateway import Gateway

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    gateway: Gateway = request.app.state.gateway
    models = {}
    for target, engine in gateway.dispatcher.engines().items():
        if target.provider != EMBEDDED_PROVIDER:
            continue
        stats = engine.stats()
        models[target.model] = {
            "status": "ok",
            "active_sequences": int(stats.get("active_sequences", 0)),
            "queue_depth": int(stats.get("queue_depth", 0)),
        }
    return {"status": "ok", "models": models, "providers": gateway.dispatcher.health()}


@router.get("/metrics", dependencies=[Depends(require(Permission.READ_USAGE))])
async def metrics(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)
