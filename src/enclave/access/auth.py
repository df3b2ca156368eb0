"""Authentication: from the key alone (never from where the request says it came from), cached briefly."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.exc import SQLAlchemyError

from enclave.access.directory import Directory, StoredKey, principal_of
from enclave.access.keys import ANONYMOUS, KEY_START, Principal, Project, matches, split_key
from enclave.access.roles import Role
from enclave.access.sessions import UiSession
from enclave.errors import AuthenticationFailed, StoreUnavailable
from enclave.store.db import now_us

_REFUSED = "Incorrect API key provided."


class Access:
    """Turns the credential of a request into a ``Principal``, or refuses it.

    With auth off (loopback only) a request without an enclave key is anonymous; one that does carry an
    enclave key is still checked, so its usage is attributed and a revoked key never works.
    """

    def __init__(self, directory: Directory | None, required: bool, cache_seconds: float = 1.0) -> None:
        if required and directory is None:
            raise ValueError("authentication needs a store")
        self.directory = directory
        self.required = required
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[float, StoredKey | None]] = {}

    async def authenticate(self, credential: str | None) -> Principal:
        if not self.required and (credential is None or not credential.startswith(KEY_START)):
            return ANONYMOUS
        if not credential:
            raise AuthenticationFailed("Missing API key: send it as 'Authorization: Bearer <key>'.")
        prefix = split_key(credential)
        if prefix is None:
            raise AuthenticationFailed(_REFUSED)
        stored = await self._lookup(prefix)
        # Expiry and revocation are checked on every request, against the cached record.
        if stored is None or not matches(credential, stored.secret_hash):
            raise AuthenticationFailed(_REFUSED)
        state = stored.info.state(now_us())
        if state != "active":
            raise AuthenticationFailed(f"This API key ({prefix}) is {state}.")
        return principal_of(stored)

    async def resume(self, session: UiSession) -> Principal:
        """Who a dashboard session stands for: the key's principal as the store holds it now (a key revoked or
        expired since sign-in fails here), or the SSO user with the role and project mapped at sign-in."""
        role: Role = session.role  # type: ignore[assignment]
        if session.key_prefix is None:
            return Principal(session.actor, role, Project(session.project) if session.project else None)
        stored = await self._lookup(session.key_prefix) if self.directory is not None else None
        if stored is None or stored.info.state(now_us()) != "active":
            raise AuthenticationFailed(f"The key this session was opened with ({session.key_prefix}) is not active.")
        return principal_of(stored)

    def forget(self, prefix: str) -> None:
        """Drop a cached key at once (it was revoked or changed through this process)."""
        self._cache.pop(prefix, None)

    def forget_all(self) -> None:
        self._cache.clear()

    async def _lookup(self, prefix: str) -> StoredKey | None:
        cached = self._cache.get(prefix)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        assert self.directory is not None
        try:
            stored = await asyncio.to_thread(self.directory.find_key, prefix)
        except SQLAlchemyError as exc:
            raise StoreUnavailable("Keys cannot be checked right now (the store is unreachable).") from exc
        if len(self._cache) > 100_000:  # bounded: unknown prefixes must not grow it forever
            self._cache.clear()
        self._cache[prefix] = (now, stored)
        return stored
