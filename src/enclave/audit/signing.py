"""Ed25519 keys for the audit log: the private half signs seals and checkpoints, the public half verifies them.

The private key lives apart from the store (``audit.signing_key_file``, by default in the user's configuration
folder, never in the data folder; or the environment variable ``audit.signing_key_env``), so whoever can write
the database or the data folder cannot sign. Verification needs the public key only, and trusts the keys pinned
in ``audit.public_keys`` (or given to ``enclave audit verify --public-key``): a signing key swapped for another
one signs nothing those pins accept.

Text form of a public key: ``ed25519:`` + the 32 raw bytes in base64, as printed by ``enclave audit keygen``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from enclave.config import Settings
from enclave.errors import ConfigError

log = logging.getLogger(__name__)
PREFIX = "ed25519:"


@dataclass(frozen=True, slots=True)
class PublicKey:
    raw: bytes
    _key: Ed25519PublicKey = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """``ed25519:<base64>``; ValueError naming what is wrong otherwise."""
        if not text.startswith(PREFIX):
            raise ValueError(f"a public key starts with {PREFIX!r}")
        try:
            raw = base64.b64decode(text[len(PREFIX) :], validate=True)
        except binascii.Error as exc:
            raise ValueError("a public key is base64 after its prefix") from exc
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        return cls(raw, Ed25519PublicKey.from_public_bytes(raw))

    @property
    def text(self) -> str:
        return PREFIX + base64.b64encode(self.raw).decode()

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def verifies(self, message: bytes, signature: str) -> bool:
        try:
            self._key.verify(bytes.fromhex(signature), message)
        except (InvalidSignature, ValueError):
            return False
        return True


class SigningKey:
    """The private key. Signing costs about 30 µs: the writer signs once per batch, not per entry."""

    def __init__(self, private: Ed25519PrivateKey, source: str) -> None:
        self._private = private
        self.source = source  # where it was read from, for messages; never the key itself

    @cached_property
    def public(self) -> PublicKey:
        public = self._private.public_key()
        return PublicKey(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw), public)

    def sign(self, message: bytes) -> str:
        return self._private.sign(message).hex()


def default_key_path() -> Path:
    """``$XDG_CONFIG_HOME/enclave/audit-signing.key``: the user's configuration, not the data folder."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "enclave" / "audit-signing.key"


def key_path(settings: Settings) -> Path:
    return settings.audit.signing_key_file or default_key_path()


def pinned_keys(settings: Settings) -> tuple[PublicKey, ...]:
    return tuple(PublicKey.parse(text) for text in settings.audit.public_keys)


def generate(path: Path) -> SigningKey:
    """A new key pair: the private key at ``path`` (mode 0600, never overwritten), its public key beside it in
    ``path.pub`` (a copy for convenience: verification trusts only what is pinned)."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: the key appears whole or not at all, and never replaces one.
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.link(draft, path)
    finally:
        draft.unlink()
    key = SigningKey(private, str(path))
    path.with_name(path.name + ".pub").write_text(key.public.text + "\n")
    return key


def _from_text(text: str, source: str) -> SigningKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            private = serialization.load_pem_private_key(text.encode(), password=None)
        elif text.startswith(PREFIX):
            private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text[len(PREFIX) :], validate=True))
        else:
            raise ValueError("neither PEM nor ed25519:<base64>")
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ConfigError(
            f"{source}: not an Ed25519 private key ({exc}); an HMAC secret from an earlier "
            "version no longer signs: create a key pair with `enclave audit keygen`"
        ) from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"{source}: the audit signing key must be an Ed25519 key")
    return SigningKey(private, source)


def load_signing_key(settings: Settings, create: bool) -> SigningKey:
    """The private key from the environment variable, else the key file; with ``create``, a missing key file
    is generated (and its public key logged, to be pinned)."""
    variable = settings.audit.signing_key_env
    if value := os.environ.get(variable):
        return _from_text(value, f"${variable}")
    path = key_path(settings)
    try:
        return _from_text(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        if not create:
            raise ConfigError(
                f"no audit signing key at {path} (and ${variable} is not set); create one with `enclave audit keygen`"
            ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the audit signing key {path}: {exc.strerror}") from exc
    try:
        key = generate(path)
    except FileExistsError:  # another process (a CLI command, a second server) created it a moment ago
        return _from_text(path.read_text(encoding="utf-8"), str(path))
    log.warning(
        "created the audit signing key %s; pin its public key in enclave.yaml so that a replaced key "
        "is noticed: audit: {public_keys: ['%s']}",
        path,
        key.public.text,
    )
    return key


def open_signing_key(settings: Settings) -> SigningKey:
    """The key a writer (server or CLI) signs with, checked against the pinned public keys: a key that is not
    pinned was swapped (or the pin is stale) and signs nothing. Without pins a missing key is created."""
    pinned = pinned_keys(settings)
    key = load_signing_key(settings, create=not pinned)
    if pinned and key.public not in pinned:
        raise ConfigError(
            f"the audit signing key {key.source} (public key {key.public.text}) is not one of "
            "audit.public_keys: the key was replaced, or the pin is out of date"
        )
    return key
