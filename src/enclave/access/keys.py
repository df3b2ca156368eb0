"""API keys: generated with 256 bits of randomness, stored as a SHA-256 digest, found by their visible prefix.

A slow password hash (bcrypt, argon2) protects low-entropy secrets; these keys are random, so a fast digest is
as safe and costs microseconds per request instead of tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from enclave.access.roles import GRANTS, Permission, Role
from enclave.config import DataClass
from enclave.errors import PermissionDenied

KEY_START = "enc_"
ANONYMOUS_ACTOR = "anonymous"
PREFIX_LENGTH = len(KEY_START) + 8
_HEX = frozenset("0123456789abcdef")


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix: ``enc_<8 hex>_<43 url-safe characters>``."""
    prefix = KEY_START + secrets.token_hex(4)
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The prefix of a well-formed key, or None; nothing else about the key is looked at before hashing."""
    if len(key) < PREFIX_LENGTH + 2 or not key.startswith(KEY_START) or key[PREFIX_LENGTH] != "_":
        return None
    prefix = key[:PREFIX_LENGTH]
    # Only hex digits: the prefix is looked up, logged and audited, so it must never carry the client's bytes.
    return prefix if all(c in _HEX for c in prefix[len(KEY_START) :]) else None


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(digest(key), stored_hash)


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    data_class: DataClass | None = None
    allowed_models: tuple[str, ...] | None = None
    allowed_zones: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    monthly_budget: float | None = None
    budget_action: str = "block"
    retention_days: int = 0

    def allows_model(self, names: tuple[str, ...]) -> bool:
        return self.allowed_models is None or any(n in self.allowed_models for n in names)

    @property
    def local_only(self) -> bool:
        return self.allowed_zones is not None and "external" not in self.allowed_zones


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an API key's identity with its role and project, or the anonymous caller when auth is
    off (loopback only)."""

    actor: str  # the key's prefix, safe to log; "anonymous" without auth
    role: Role
    project: Project | None = None
    rpm: int | None = None
    tpm: int | None = None
    expires_us: int | None = None

    @property
    def anonymous(self) -> bool:
        return self.actor == ANONYMOUS_ACTOR

    def require(self, permission: Permission) -> None:
        if permission not in GRANTS[self.role]:
            raise PermissionDenied(f"Role '{self.role}' may not {permission.value.replace('_', ' ')}.")


ANONYMOUS = Principal(ANONYMOUS_ACTOR, "admin")
