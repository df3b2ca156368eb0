"""Signing in to the dashboard with the organisation's OIDC provider (``sso:`` in the configuration).

``/ui/sso/start`` records a sign-in under way (state, nonce, PKCE verifier; see ``access.sessions``) bound to
this browser by a short-lived cookie, and sends the browser to the provider. ``/ui/sso/callback`` accepts the
provider's answer only with that cookie and the same state, exchanges the code with the verifier, verifies the
ID token (``access.oidc``) and opens a session with the role the claims map to. Every failure is a page saying
what went wrong, with its status; none is a 500.
"""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from enclave.access.keys import Principal
from enclave.access.oidc import OidcProvider
from enclave.access.roles import Permission, Role
from enclave.errors import EnclaveError, NotFound, SsoFailed, SsoRefused
from enclave.gateway import Gateway
from enclave.ui.login import audit, drop_cookie, sessions_of, set_cookie, signed_in
from enclave.ui.render import render

SSO_COOKIE = "enclave_ui_sso"
CALLBACK = "/ui/sso/callback"

router = APIRouter(prefix="/ui/sso")


def _provider(request: Request) -> OidcProvider:
    provider: OidcProvider | None = request.app.state.sso
    if provider is None:
        raise NotFound("single sign-on is not configured on this server (see `sso:` in docs/config.md)")
    return provider


def _redirect_uri(request: Request, provider: OidcProvider) -> str:
    return provider.config.redirect_url or str(request.base_url).rstrip("/") + CALLBACK


def _refused(request: Request, exc: EnclaveError) -> Response:
    response = render(request, "error.html", {"error": exc}, status=exc.status)
    drop_cookie(response, SSO_COOKIE)
    return response


@router.get("/start")
async def start(request: Request) -> Response:
    try:
        provider = _provider(request)
        login_id, login = await asyncio.to_thread(sessions_of(request).start_sso)
        url = await provider.authorization_url(login, _redirect_uri(request, provider))
    except EnclaveError as exc:
        return _refused(request, exc)
    response = RedirectResponse(url, status_code=303)
    set_cookie(response, request, SSO_COOKIE, login_id, 600)
    return response


@router.get("/callback")
async def callback(request: Request) -> Response:
    query = request.query_params
    try:
        provider = _provider(request)
        sessions = sessions_of(request)
        login_id = request.cookies.get(SSO_COOKIE)
        login = await asyncio.to_thread(sessions.take_sso, login_id) if login_id else None
        if login is None:
            raise SsoFailed(
                "This sign-in was not started in this browser, or it took too long (10 minutes); start again."
            )
        if not hmac.compare_digest(query.get("state", "").encode(), login.state.encode()):
            raise SsoFailed("The provider's answer does not belong to the sign-in this browser started (state).")
        if "error" in query:
            reason = f"{query['error']}: {query.get('error_description', '')}"[:300]
            raise SsoFailed(f"The provider did not sign you in ({reason}).")
        if not query.get("code"):
            raise SsoFailed("The provider's answer carries no authorization code.")
        identity = await provider.identity(query["code"], login, _redirect_uri(request, provider))
        gateway: Gateway = request.app.state.gateway
        directory = gateway.access.directory
        if identity.project is not None and directory is not None:
            try:
                await asyncio.to_thread(directory.project, identity.project)
            except NotFound as exc:
                unknown = f"Your project claim names {identity.project!r}, which enclave does not know."
                raise SsoRefused(unknown) from exc
        role: Role = identity.role  # type: ignore[assignment]
        Principal(identity.actor, role).require(Permission.READ_USAGE)
        session_id = await asyncio.to_thread(sessions.open, identity.actor, role, identity.project)
    except EnclaveError as exc:
        audit(request, "sso", "ui.login", exc.code or exc.type)
        return _refused(request, exc)
    audit(request, identity.actor, "ui.login", "ok")
    response = signed_in(request, session_id)
    drop_cookie(response, SSO_COOKIE)
    return response
