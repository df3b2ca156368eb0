"""The admin API: keys, projects, usage and the audit log. Every call is audited, refusals included."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from enclave.access.directory import Directory, KeyInfo
from enclave.access.keys import Principal, Project
from enclave.access.roles import Permission
from enclave.access.specs import KeySpec, ProjectChanges, ProjectSpec
from enclave.api.auth import require
from enclave.api.bounds import KeyPrefix, ProjectPath, ProjectQuery, QueryText
from enclave.api.streaming import parse_body
from enclave.audit.checkpoints import Checkpoints
from enclave.audit.verify import verify_log
from enclave.errors import StoreUnavailable
from enclave.gateway import Gateway
from enclave.ledger.dead_letters import list_dead_letters
from enclave.ledger.summary import UsageFilter, dimensions, summarize
from enclave.store.db import now_us
from enclave.store.schema import audit_log

router = APIRouter(prefix="/admin")
Manager = Annotated[Principal, Depends(require(Permission.MANAGE, audited=True))]
Viewer = Annotated[Principal, Depends(require(Permission.READ_USAGE, audited=True))]
Auditor = Annotated[Principal, Depends(require(Permission.READ_AUDIT, audited=True))]


def _directory(request: Request) -> Directory:
    directory = request.app.state.gateway.access.directory
    if directory is None:
        raise StoreUnavailable("this server runs without a store")
    return directory


def key_view(info: KeyInfo) -> dict[str, Any]:
    return {**asdict(info), "state": info.state(now_us())}


def project_view(project: Project) -> dict[str, Any]:
    return asdict(project)


@router.get("/keys")
async def list_keys(request: Request, _: Manager) -> dict[str, Any]:
    keys = await asyncio.to_thread(_directory(request).list_keys)
    return {"object": "list", "data": [key_view(k) for k in keys]}


@router.post("/keys", status_code=201)
async def create_key(request: Request, caller: Manager) -> JSONResponse:
    spec = await parse_body(request, KeySpec)
    expires = now_us() + int(spec.expires_in_days * 86_400e6) if spec.expires_in_days else None
    key, info = await asyncio.to_thread(
        _directory(request).create_key, caller.actor, spec.name, spec.role, spec.project, expires, spec.rpm, spec.tpm
    )
    # The key is in this response and nowhere else: it cannot be shown again.
    return JSONResponse({"key": key, **key_view(info)}, status_code=201)


@router.post("/keys/{prefix}/revoke")
@router.delete("/keys/{prefix}")
async def revoke_key(prefix: KeyPrefix, request: Request, caller: Manager) -> dict[str, Any]:
    info = await asyncio.to_thread(_directory(request).revoke_key, caller.actor, prefix)
    gateway: Gateway = request.app.state.gateway
    gateway.access.forget(prefix)
    return key_view(info)


@router.get("/projects")
async def list_projects(request: Request, _: Manager) -> dict[str, Any]:
    projects = await asyncio.to_thread(_directory(request).list_projects)
    return {"object": "list", "data": [project_view(p) for p in projects]}


@router.post("/projects", status_code=201)
async def create_project(request: Request, caller: Manager) -> JSONResponse:
    spec = await parse_body(request, ProjectSpec)
    project = await asyncio.to_thread(_directory(request).create_project, caller.actor, spec.project())
    return JSONResponse(project_view(project), status_code=201)


@router.patch("/projects/{name}")
async def update_project(name: ProjectPath, request: Request, caller: Manager) -> dict[str, Any]:
    changes = await parse_body(request, ProjectChanges)
    project = await asyncio.to_thread(_directory(request).update_project, caller.actor, name, changes.changes())
    gateway: Gateway = request.app.state.gateway
    gateway.access.forget_all()  # cached keys carry their project's settings
    return project_view(project)


@router.get("/usage")
async def usage(
    request: Request,
    caller: Viewer,
    by: str = "project,model,zone,day",
    since: QueryText = None,
    until: QueryText = None,
    project: ProjectQuery = None,
) -> dict[str, Any]:
    """Usage summed by any of: project, key, model, target, zone, day, month, status. A key bound to a
    project sees that project only."""
    grouping = dimensions(by)
    if caller.project is not None:
        project = caller.project.name
    where = UsageFilter(since, until, project)
    gateway: Gateway = request.app.state.gateway
    rows = await asyncio.to_thread(summarize, _directory(request).engine, grouping, where)
    return {"object": "list", "currency": gateway.accounting.prices.currency, "data": rows}


@router.get("/dead-letters")
async def dead_letters(
    request: Request,
    _: Manager,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Ledger rows the database refused for what they held, set aside with its reason, oldest first."""
    rows = await asyncio.to_thread(list_dead_letters, _directory(request).engine, after, limit)
    return {"object": "list", "data": rows}


@router.get("/audit")
async def audit_entries(
    request: Request,
    _: Auditor,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    engine = _directory(request).engine

    def read() -> list[dict[str, Any]]:
        query = select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(limit)
        with engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    return {"object": "list", "data": await asyncio.to_thread(read)}


@router.get("/audit/verify")
async def audit_verify(request: Request, _: Auditor) -> dict[str, Any]:
    engine = _directory(request).engine
    recorder = request.app.state.gateway.accounting.recorder
    if recorder is None or recorder.checkpoints is None:
        raise StoreUnavailable("this server runs without an audit log")
    checkpoints: Checkpoints = recorder.checkpoints

    def verify() -> dict[str, Any]:
        result = verify_log(engine, checkpoints)
        return {
            "ok": result.ok,
            "entries": result.entries,
            "head": result.head_hash,
            "checkpoints": result.checkpoints,
            "problems": [asdict(p) for p in result.problems],
            "warnings": result.warnings,
        }

    return await asyncio.to_thread(verify)
