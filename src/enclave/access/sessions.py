"""Dashboard sessions, kept in the store. The browser holds a random id (256 bits) in a cookie; the store holds
only its SHA-256, so a copy of the database opens no session. A session ends at its absolute expiry, after its
idle time, at logout, or when the key it was opened with is revoked (``end_key_sessions``, in the revocation's
own transaction). SSO sign-ins under way are kept here too, bound to the browser that started them.

Synchronous, like ``Directory``: the server calls it from a worker thread.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select, update

from enclave.config import DashboardConfig
from enclave.store.db import now_us
from enclave.store.schema import ui_sessions, ui_sso_logins

SSO_LOGIN_SECONDS = 600  # the time a user has to finish signing in at the provider
TOUCH_US = 15_000_000  # last use is written at most this often per session: one write per page view is waste


@dataclass(frozen=True, slots=True)
class UiSession:
    actor: str
    key_prefix: str | None
    role: str
    project: str | None
    expires_us: int


@dataclass(frozen=True, slots=True)
class SsoLogin:
    state: str
    nonce: str
    code_verifier: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The token a session's forms carry: derived from the id (a keyed hash, not the id's stored hash), so it
    needs no column and reveals neither the id nor what the store holds."""
    return hmac.new(session_id.encode(), b"enclave-ui-csrf", hashlib.sha256).hexdigest()


def end_key_sessions(connection: Connection, prefix: str) -> None:
    connection.execute(delete(ui_sessions).where(ui_sessions.c.key_prefix == prefix))


class Sessions:
    def __init__(self, engine: Engine, config: DashboardConfig) -> None:
        self.engine = engine
        self.config = config

    def open(self, actor: str, role: str, project: str | None, key_prefix: str | None = None) -> str:
        """A new session; its id is returned once (for the cookie) and never stored."""
        session_id = secrets.token_urlsafe(32)
        now = now_us()
        with self.engine.begin() as connection:
            # Ended sessions are swept here, at sign-in, rather than by a background task.
            connection.execute(delete(ui_sessions).where(ui_sessions.c.expires_us <= now))
            connection.execute(
                insert(ui_sessions).values(
                    id_hash=_hash(session_id),
                    actor=actor[:64],
                    key_prefix=key_prefix,
                    role=role,
                    project=project,
                    created_us=now,
                    expires_us=now + self.config.session_seconds * 1_000_000,
                    seen_us=now,
                )
            )
        return session_id

    def find(self, session_id: str) -> UiSession | None:
        """The live session with this id, its last use noted; None when there is none or it has ended (the
        ended one is deleted)."""
        key = _hash(session_id)
        now = now_us()
        with self.engine.begin() as connection:
            row = connection.execute(select(ui_sessions).where(ui_sessions.c.id_hash == key)).first()
            if row is None:
                return None
            if row.expires_us <= now or row.seen_us + self.config.idle_seconds * 1_000_000 <= now:
                connection.execute(delete(ui_sessions).where(ui_sessions.c.id_hash == key))
                return None
            if now - row.seen_us >= TOUCH_US:
                connection.execute(update(ui_sessions).where(ui_sessions.c.id_hash == key).values(seen_us=now))
        return UiSession(row.actor, row.key_prefix, row.role, row.project, row.expires_us)

    def close(self, session_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(ui_sessions).where(ui_sessions.c.id_hash == _hash(session_id)))

    def start_sso(self) -> tuple[str, SsoLogin]:
        """A sign-in under way: the id for the browser's cookie, and the state, nonce and PKCE verifier."""
        login_id = secrets.token_urlsafe(32)
        login = SsoLogin(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64))
        now = now_us()
        with self.engine.begin() as connection:
            connection.execute(delete(ui_sso_logins).where(ui_sso_logins.c.expires_us <= now))
            connection.execute(
                insert(ui_sso_logins).values(
                    id_hash=_hash(login_id),
                    state=login.state,
                    nonce=login.nonce,
                    code_verifier=login.code_verifier,
                    expires_us=now + SSO_LOGIN_SECONDS * 1_000_000,
                )
            )
        return login_id, login

    def take_sso(self, login_id: str) -> SsoLogin | None:
        """The sign-in this browser started, removed (each is used once); None when unknown or too old."""
        key = _hash(login_id)
        with self.engine.begin() as connection:
            row = connection.execute(select(ui_sso_logins).where(ui_sso_logins.c.id_hash == key)).first()
            connection.execute(delete(ui_sso_logins).where(ui_sso_logins.c.id_hash == key))
        if row is None or row.expires_us <= now_us():
            return None
        return SsoLogin(row.state, row.nonce, row.code_verifier)
