"""A minimal OpenID Connect provider on loopback, for the dashboard's SSO tests: its discovery document, its
signing keys (JWKS), ``/authorize`` that approves the configured user at once (no login page), and ``/token``
that checks the client's secret, the redirect URI and the PKCE verifier (S256 only) before it signs an RS256 ID
token with joserfc. ``tamper`` makes it answer as a broken or hostile provider would: a token for another nonce,
signed with a key it does not publish, already expired, or for another client."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.servers import free_port

CLIENT_ID = "enclave-dashboard"
CLIENT_SECRET = "test-client-secret"
KID = "test-key-1"


@dataclass
class Grant:
    redirect_uri: str
    challenge: str
    nonce: str
    user: dict[str, Any]


@dataclass
class Provider:
    url: str = ""
    user: dict[str, Any] = field(default_factory=dict)  # the claims of whoever "signs in" next
    tamper: str | None = None  # None | "nonce" | "signature" | "expired" | "audience"
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": KID}))
    grants: dict[str, Grant] = field(default_factory=dict)
    verified: list[str] = field(default_factory=list)  # PKCE verifiers that matched their challenge

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **grant.user,
        }
        key = self.key
        if self.tamper == "nonce":
            claims["nonce"] = "another-sign-in"
        elif self.tamper == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 600
        elif self.tamper == "audience":
            claims["aud"] = "another-client"
        elif self.tamper == "signature":  # same kid, but not the key the JWKS publishes
            key = RSAKey.generate_key(2048, parameters={"kid": KID})
        return jwt.encode({"alg": "RS256", "kid": KID}, claims, key)


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _app(provider: Provider) -> Starlette:
    async def discovery(_: Request) -> Response:
        return JSONResponse(
            {
                "issuer": provider.url,
                "authorization_endpoint": f"{provider.url}/authorize",
                "token_endpoint": f"{provider.url}/token",
                "jwks_uri": f"{provider.url}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def jwks(_: Request) -> Response:
        return JSONResponse(KeySet([provider.key]).as_dict(private=False))

    async def authorize(request: Request) -> Response:
        q = request.query_params
        problems = [
            name
            for name, ok in (
                ("response_type", q.get("response_type") == "code"),
                ("client_id", q.get("client_id") == CLIENT_ID),
                ("scope", "openid" in q.get("scope", "").split()),
                ("code_challenge_method", q.get("code_challenge_method") == "S256"),
                ("code_challenge", bool(q.get("code_challenge"))),
                ("redirect_uri", bool(q.get("redirect_uri"))),
                ("state", bool(q.get("state"))),
                ("nonce", bool(q.get("nonce"))),
            )
            if not ok
        ]
        if problems:
            return PlainTextResponse(f"bad authorization request: {', '.join(problems)}", status_code=400)
        code = secrets.token_urlsafe(16)
        provider.grants[code] = Grant(q["redirect_uri"], q["code_challenge"], q["nonce"], dict(provider.user))
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        client = base64.b64decode(encoded).decode() if scheme.lower() == "basic" else ""
        client_id, _, secret = client.partition(":")
        if (unquote(client_id), unquote(secret)) != (CLIENT_ID, CLIENT_SECRET):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = provider.grants.pop(form.get("code", ""), None)  # each code is used once
        verifier = form.get("code_verifier", "")
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or form.get("redirect_uri") != grant.redirect_uri
            or challenge(verifier) != grant.challenge
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        provider.verified.append(verifier)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": provider.id_token(grant),
            }
        )

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
        ]
    )


@contextmanager
def oidc_provider(name: str = "127.0.0.1") -> Iterator[Provider]:
    """The provider on a loopback port; ``name`` is the host its URLs use ("localhost" makes it another site
    than a dashboard at 127.0.0.1, as a real provider is, so SameSite rules apply in a browser)."""
    provider = Provider()
    port = free_port()
    provider.url = f"http://{name}:{port}"
    server = uvicorn.Server(uvicorn.Config(_app(provider), host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test OIDC provider did not start")
        time.sleep(0.05)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(5)


def sso_settings(provider: Provider) -> dict[str, object]:
    """enclave's ``sso:`` section for this provider: groups map to roles, a project claim is read."""
    return {
        "sso": {
            "issuer": provider.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "role_claim": "groups",
            "roles": {"enclave-admins": "admin", "enclave-viewers": "viewer", "enclave-developers": "developer"},
            "project_claim": "enclave_project",
        }
    }
