"""GET /health and GET /metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from enclave.access.keys import Principal
from enclave.access.roles import Permission
from enclave.api.auth import require
from enclave.config import EMBEDDED_PROVIDER
from enclave.errors import PermissionDenied
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
    for target, embedder in gateway.dispatcher.embedders().items():
        if target.provider == EMBEDDED_PROVIDER:
            # An embedding model queues inputs, not requests.
            models[target.model] = {"status": "ok", "queued_inputs": int(embedder.stats().get("queued_inputs", 0))}
    return {"status": "ok", "models": models, "providers": gateway.dispatcher.health()}


async def every_project(principal: Annotated[Principal, Depends(require(Permission.READ_USAGE))]) -> Principal:
    """The series cover every project's traffic: a key bound to one project reads its usage at /admin/usage,
    which is filtered to that project, and not here."""
    if principal.project is not None:
        raise PermissionDenied(
            f"/metrics covers every project's traffic; this key is bound to project "
            f"'{principal.project.name}': read its usage at /admin/usage."
        )
    return principal


@router.get("/metrics", dependencies=[Depends(every_project)])
async def metrics(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)
