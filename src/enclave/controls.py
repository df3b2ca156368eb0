"""Opening the enterprise controls from configuration: store, keys, limits, ledger and audit writer.

Shared by the server and the CLI, so both read and write the same store the same way.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Engine

from enclave.access.auth import Access
from enclave.access.directory import Directory
from enclave.access.limits import Limiter, MemoryLimiter, RedisLimiter
from enclave.audit.chain import AuditEntry
from enclave.audit.checkpoints import Checkpoints, checkpoint_places
from enclave.audit.signing import open_signing_key, pinned_keys
from enclave.config import Settings
from enclave.gateway.accounting import Accounting
from enclave.ledger.prices import PriceSheet
from enclave.ledger.recorder import Recorder
from enclave.ledger.summary import month_spend
from enclave.store.db import now_us, open_engine, store_url

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def requires_auth(settings: Settings, host: str) -> bool:
    mode = settings.auth.mode
    return mode == "on" or (mode == "auto" and not is_loopback(host))


@dataclass(frozen=True, slots=True)
class Controls:
    engine: Engine
    directory: Directory
    access: Access
    accounting: Accounting
    recorder: Recorder


def open_store(settings: Settings) -> Engine:
    return open_engine(store_url(settings))


def checkpoints(settings: Settings) -> Checkpoints:
    """The checkpoint places with the key that signs (ConfigError when it cannot be read or is not pinned)."""
    return Checkpoints(checkpoint_places(settings), open_signing_key(settings), pinned_keys(settings))


def open_controls(settings: Settings, auth_required: bool) -> Controls:
    signed = checkpoints(settings)
    engine = open_store(settings)
    directory = Directory(engine, signed)
    spent = partial(month_spend, engine)
    limiter: Limiter = (
        RedisLimiter(settings.limits.redis_url, spent) if settings.limits.backend == "redis" else MemoryLimiter(spent)
    )
    recorder = Recorder(engine, settings.ledger, signed, settings.audit.checkpoint_seconds)
    accounting = Accounting(PriceSheet(settings.prices), settings.limits, limiter, recorder)
    access = Access(directory, auth_required, settings.auth.cache_seconds)
    if auth_required and not any(k.role == "admin" and k.state(now_us()) == "active" for k in directory.list_keys()):
        log.warning(
            "authentication is on and no admin key exists: create one with "
            "`enclave keys create --name NAME --role admin`"
        )
    return Controls(engine, directory, access, accounting, recorder)


def record_start(settings: Settings, accounting: Accounting, auth_required: bool) -> None:
    """The server is serving: its start and the policy in force go into the audit log. The policy is part of
    the record: a digest of the configuration, so a changed rule shows up as a changed digest."""
    policy = settings.model_dump(mode="json", include={"policy", "routes", "guard", "auth", "limits", "prices"})
    digest = hashlib.sha256(json.dumps(settings.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
    accounting.audit(
        AuditEntry(
            "server",
            "server.start",
            "ok",
            details={
                "config_sha256": digest,
                "auth_required": auth_required,
                "rules": [r["name"] for r in policy["policy"]["rules"]],
                "routes": [r["name"] for r in policy["routes"]],
                "guard_action": policy["guard"]["action"],
            },
        )
    )
