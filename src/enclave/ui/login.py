"""Who is looking at the dashboard: the API key from the ``Authorization`` header (scripts, tests) or from the
cookie the login form sets (browsers). The key travels in a form body, never in a URL; the cookie is HttpOnly
(no script reads it), SameSite=Strict (no other site's page sends it, which also covers cross-site form
posts) and scoped to /ui, so it never reaches the inference API."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from enclave.access.roles import Permission
from enclave.api.auth import credential, require
from enclave.errors import EnclaveError, InvalidRequest
from enclave.ui.render import render

COOKIE = "enclave_ui_key"
COOKIE_SECONDS = 8 * 3600  # a working day: after that the browser forgets the key and the form asks again
FORM_LIMIT = 4096  # a key is ~56 characters; nothing longer is read

router = APIRouter(prefix="/ui")


def ui_credential(request: Request) -> str | None:
    return credential(request) or request.cookies.get(COOKIE)


viewer = require(Permission.READ_USAGE, audited=True, read=ui_credential)


@router.get("/login")
async def login_form(request: Request) -> Response:
    return render(request, "login.html", {"message": None})


@router.post("/login")
async def login(request: Request) -> Response:
    body = await request.body()
    try:
        if len(body) > FORM_LIMIT:
            raise InvalidRequest("the form is too large", param="key")
        key = (parse_qs(body.decode("utf-8", "replace")).get("key") or [""])[0].strip()
        if not key:
            raise InvalidRequest("enter an API key", param="key")
        await request.app.state.gateway.authorize(key, Permission.READ_USAGE)
    except EnclaveError as exc:
        return render(request, "login.html", {"message": exc.message}, status=exc.status)
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(
        COOKIE,
        key,
        max_age=COOKIE_SECONDS,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response
