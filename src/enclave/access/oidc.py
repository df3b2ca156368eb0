"""OIDC single sign-on, the relying party's side: the authorization code flow with PKCE (S256). Authlib builds
the protocol's messages (the authorization URL, the S256 challenge, the token request and its client
authentication), httpx carries them (as every other outbound call of enclave, with its timeout and errors), and
joserfc (Authlib's JOSE library) verifies the ID token.

Only the configured issuer is contacted: its discovery document (fetched at first use, with the configured
timeout) and the endpoints it names. The ID token must be signed with one of the provider's published keys
(asymmetric algorithms only), issued by the issuer, for this client, unexpired, and carry the nonce this sign-in
generated. Every failure is an ``SsoFailed`` with the reason; a user the claims give no role is ``SsoRefused``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from enclave.access.sessions import SsoLogin
from enclave.config import SsoConfig
from enclave.errors import ConfigError, SsoFailed, SsoRefused, SsoUnavailable

# Signatures with the provider's public keys only: never "none", never a shared-secret HMAC.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_SECONDS = 60  # clock skew between the provider and this server


@dataclass(frozen=True, slots=True)
class Identity:
    """A signed-in user as the dashboard session records it."""

    actor: str  # "sso:<username, email or subject>", safe to log and audit
    role: str
    project: str | None


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name or dotted path (Keycloak's ``realm_access.roles``); a name with dots that is itself a
    claim (URI-style names, as Auth0 uses) is taken whole first."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def identity_of(claims: dict[str, Any], config: SsoConfig) -> Identity:
    """The enclave role the claims map to (the first configured value the user holds), and the project."""
    held = claim(claims, config.role_claim)
    values = {held} if isinstance(held, str) else {str(v) for v in held} if isinstance(held, list) else set()
    name = claims.get("preferred_username") or claims.get("email") or claims["sub"]
    actor = f"sso:{name}"[:64]
    role = next((role for value, role in config.roles.items() if value in values), None)
    if role is None:
        raise SsoRefused(
            f"You signed in as {name}, but no value of your '{config.role_claim}' claim gives access to this "
            "dashboard. Ask an administrator to grant you one of the roles it maps."
        )
    # Like a key: bound to the project the claim names, or to none (every project's traffic) without the claim.
    project = claim(claims, config.project_claim) if config.project_claim else None
    if project is not None and not isinstance(project, str):
        raise SsoRefused(f"You signed in as {name}, but your '{config.project_claim}' claim is not a project name.")
    return Identity(actor, role, project)


class OidcProvider:
    def __init__(self, config: SsoConfig) -> None:
        self.config = config
        secret = config.client_secret
        if config.client_secret_env:
            secret = os.environ.get(config.client_secret_env)
            if not secret:
                raise ConfigError(f"sso.client_secret_env: environment variable {config.client_secret_env} is not set")
        self._secret = secret
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def _get(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout_seconds) as client:
                response = await client.get(url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise SsoUnavailable(f"The sign-in provider's {what} could not be read from {url}: {exc}") from exc
        if not isinstance(document, dict):
            raise SsoUnavailable(f"The sign-in provider's {what} at {url} is not a JSON object.")
        return document

    async def metadata(self) -> dict[str, Any]:
        """The discovery document, read once; its issuer must be the configured one (OIDC Discovery §4.3)."""
        if self._metadata is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = await self._get(url, "discovery document")
            if document.get("issuer") != self.config.issuer:
                named = document.get("issuer")
                raise SsoUnavailable(f"The discovery document names issuer {named!r}, not the configured one.")
            missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if k not in document]
            if missing:
                raise SsoUnavailable(f"The provider's discovery document lacks {', '.join(missing)}.")
            self._metadata = document
        return self._metadata

    async def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            document = await self._get((await self.metadata())["jwks_uri"], "signing keys (JWKS)")
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError) as exc:
                raise SsoUnavailable(f"The provider's signing keys cannot be read: {exc}") from exc
        return self._keys

    async def authorization_url(self, login: SsoLogin, redirect_uri: str) -> str:
        return str(
            prepare_grant_uri(
                (await self.metadata())["authorization_endpoint"],
                self.config.client_id,
                "code",
                redirect_uri=redirect_uri,
                scope=" ".join(self.config.scopes),
                state=login.state,
                nonce=login.nonce,
                code_challenge=create_s256_code_challenge(login.code_verifier),
                code_challenge_method="S256",
            )
        )

    async def identity(self, code: str, login: SsoLogin, redirect_uri: str) -> Identity:
        """Exchange the code (with the PKCE verifier), verify the ID token, and map its claims to a role."""
        endpoint = (await self.metadata())["token_endpoint"]
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=login.code_verifier
        )
        # A confidential client authenticates with its secret (HTTP Basic); a public one names itself.
        auth = ClientAuth(self.config.client_id, self._secret, "client_secret_basic" if self._secret else "none")
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        _, headers, body = auth.prepare("POST", endpoint, headers, body)
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout_seconds) as client:
                response = await client.post(endpoint, content=body, headers=headers)
            token = response.json()
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise SsoUnavailable(f"The provider's token endpoint could not be used: {exc}") from exc
        if response.status_code != 200 or not isinstance(token, dict):
            error = token.get("error") if isinstance(token, dict) else None
            raise SsoFailed(f"The provider refused the sign-in code ({response.status_code} {error or ''}).")
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoFailed("The provider's answer carries no ID token (is 'openid' among the scopes?).")
        return identity_of(await self.verify(id_token, login.nonce), self.config)

    async def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), algorithms=ALGORITHMS)
            except InvalidKeyIdError:  # no key with the token's kid: the provider may have rotated its keys
                decoded = jwt.decode(id_token, await self._key_set(refresh=True), algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self.config.issuer},
                aud={"essential": True, "value": self.config.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except JoseError as exc:
            raise SsoFailed(f"The ID token was refused: {exc.error}: {exc.description or ''}".rstrip(": ")) from exc
        return dict(decoded.claims)
