"""Who is calling, for the endpoints outside the inference pipeline (which authenticates in the gateway)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from enclave.access.keys import Principal, split_key
from enclave.access.roles import Permission
from enclave.api.bounds import audit_resource
from enclave.audit.chain import AuditEntry
from enclave.errors import EnclaveError
from enclave.gateway import Gateway


def credential(request: Request) -> str | None:
    """The API key, from ``Authorization: Bearer`` (OpenAI) or ``api-key`` (Azure-style clients)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return request.headers.get("api-key")


def require(
    permission: Permission, audited: bool = False, read: Callable[[Request], str | None] = credential
) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that authenticates the caller (by the key ``read`` finds) and checks ``permission``; admin
    endpoints are audited, refusals included (the entry names the key's prefix, never the key)."""

    async def dependency(request: Request) -> Principal:
        gateway: Gateway = request.app.state.gateway
        key = read(request)
        try:
            principal = await gateway.authorize(key, permission)
        except EnclaveError as exc:
            if audited:
                actor = (split_key(key) if key else None) or "unknown"
                gateway.accounting.audit(
                    AuditEntry(actor, "admin.access", exc.code or exc.type, resource=audit_resource(request))
                )
            raise
        request.state.principal = principal
        if audited:
            gateway.accounting.audit(
                AuditEntry(principal.actor, "admin.access", "ok", resource=audit_resource(request))
            )
        return principal

    return dependency
