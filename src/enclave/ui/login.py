"""Who is looking at the dashboard, and signing in and out.

Scripts send their key as ``Authorization: Bearer`` on each request, as everywhere else. Browsers sign in with
the form (the key in the POST body, never in a URL) or with SSO (``ui.sso``), and get a server-side session: the
cookie holds only a random id, the store its hash and who signed in (``access.sessions``). The cookie is HttpOnly
(no script reads it), scoped to /ui (it never authenticates an inference call), Secure over https, and
SameSite=Lax, not Strict: the SSO provider sends the browser back with a cross-site redirect, and a Strict cookie
set at the end of that chain is not sent on the next page. Lax lets other sites link to a page (a GET, which
changes nothing) but not post to it; every form that changes something (log in, log out) also carries a CSRF
token: before a session, the double-submit token of a cookie the login page sets; in a session, one derived from
the session id. An ended session (expired, idle, logged out, its key revoked) sends the browser to the login page.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from enclave.access.keys import Principal
from enclave.access.roles import Permission
from enclave.access.sessions import Sessions, csrf_token
from enclave.api.auth import credential, require
from enclave.api.bounds import audit_resource
from enclave.audit.chain import AuditEntry
from enclave.errors import (
    AuthenticationFailed,
    CsrfRefused,
    EnclaveError,
    InvalidRequest,
    StoreUnavailable,
)
from enclave.gateway import Gateway
from enclave.ui.render import render

COOKIE = "enclave_ui_session"
CSRF_COOKIE = "enclave_ui_csrf"  # the login form's double-submit token, before there is a session
FORM_LIMIT = 4096  # a key is ~56 characters; nothing longer is read
ENDED = "/ui/login?session=ended"

router = APIRouter(prefix="/ui")
by_key = require(Permission.READ_USAGE, audited=True)


class SessionEnded(Exception):
    """The browser's session cookie names no live session: it goes back to the login page."""


def set_cookie(response: Response, request: Request, name: str, value: str, seconds: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path="/ui",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def drop_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/ui", httponly=True, samesite="lax")


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions | None = request.app.state.gateway.sessions
    if sessions is None:
        raise StoreUnavailable("this server runs without a store: there are no sessions to sign in to")
    return sessions


async def read_form(request: Request, *fields: str) -> dict[str, str]:
    body = await request.body()
    if len(body) > FORM_LIMIT:
        raise InvalidRequest("the form is too large")
    values = parse_qs(body.decode("utf-8", "replace"))
    return {name: (values.get(name) or [""])[0].strip() for name in fields}


def check_csrf(sent: str, expected: str | None) -> None:
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused(
            "This form was not sent from this dashboard's own page (its CSRF token is missing or does not match), "
            "so nothing was done. Reload the page and try again."
        )


def audit(request: Request, actor: str, action: str, outcome: str) -> None:
    gateway: Gateway = request.app.state.gateway
    gateway.accounting.audit(AuditEntry(actor, action, outcome, resource=audit_resource(request)))


async def current(request: Request) -> tuple[Principal, str | None]:
    """The caller and, for a browser session, the CSRF token its forms carry. A key in the header wins; without
    header or cookie it is the anonymous caller when auth is off, else AuthenticationFailed (the login form)."""
    session_id = request.cookies.get(COOKIE)
    gateway: Gateway = request.app.state.gateway
    if credential(request) is not None or not session_id or gateway.sessions is None:
        return await by_key(request), None
    session = await asyncio.to_thread(gateway.sessions.find, session_id)
    if session is None:
        raise SessionEnded
    try:
        principal = await gateway.access.resume(session)
    except AuthenticationFailed:
        await asyncio.to_thread(gateway.sessions.close, session_id)
        raise SessionEnded from None
    try:
        principal.require(Permission.READ_USAGE)
    except EnclaveError as exc:
        audit(request, principal.actor, "admin.access", exc.code or exc.type)
        raise
    audit(request, principal.actor, "admin.access", "ok")
    request.state.principal = principal
    return principal, csrf_token(session_id)


def ended(request: Request) -> Response:
    response = RedirectResponse(ENDED, status_code=303)
    drop_cookie(response, COOKIE)
    return response


def signed_in(request: Request, session_id: str) -> Response:
    """To the overview, with the session's cookie (and without the login form's token, used up)."""
    response = RedirectResponse("/ui/", status_code=303)
    set_cookie(response, request, COOKIE, session_id, request.app.state.gateway.sessions.config.session_seconds)
    drop_cookie(response, CSRF_COOKIE)
    return response


def login_page(request: Request, message: str | None, status: int = 200) -> Response:
    """The form, with a fresh double-submit token in the page and in a cookie (a refusal gets a new one too)."""
    token = secrets.token_urlsafe(32)
    sso = request.app.state.sso is not None
    response = render(request, "login.html", {"message": message, "csrf": token, "sso": sso}, status=status)
    set_cookie(response, request, CSRF_COOKIE, token, 3600)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    ended_now = request.query_params.get("session") == "ended"
    return login_page(request, "Your session has ended; sign in again." if ended_now else None)


@router.post("/login")
async def login(request: Request) -> Response:
    try:
        form = await read_form(request, "key", "csrf")
        check_csrf(form["csrf"], request.cookies.get(CSRF_COOKIE))
        if not form["key"]:
            raise InvalidRequest("enter an API key", param="key")
        gateway: Gateway = request.app.state.gateway
        principal = await gateway.authorize(form["key"], Permission.READ_USAGE)
        if principal.anonymous:  # auth off and no enclave key: there is nothing to sign in as
            raise AuthenticationFailed("Enter an enclave API key (enc_...).")
        project = principal.project.name if principal.project else None
        session_id = await asyncio.to_thread(
            sessions_of(request).open, principal.actor, principal.role, project, principal.actor
        )
    except CsrfRefused as exc:
        return render(request, "error.html", {"error": exc}, status=exc.status)
    except EnclaveError as exc:
        return login_page(request, exc.message, exc.status)
    audit(request, principal.actor, "ui.login", "ok")
    return signed_in(request, session_id)


@router.post("/logout")
async def logout(request: Request) -> Response:
    session_id = request.cookies.get(COOKIE)
    if session_id:
        try:
            form = await read_form(request, "csrf")
            check_csrf(form["csrf"], csrf_token(session_id))
            await asyncio.to_thread(sessions_of(request).close, session_id)
        except EnclaveError as exc:
            return render(request, "error.html", {"error": exc}, status=exc.status)
    response = RedirectResponse("/ui/login", status_code=303)
    drop_cookie(response, COOKIE)
    return response
