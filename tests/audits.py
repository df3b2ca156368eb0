"""The audit log's newest inference entry, read from a test server's SQLite store."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from enclave.config import Settings
from enclave.store.db import open_engine
from enclave.store.schema import audit_log


def last_audit(settings: Settings) -> dict[str, Any]:
    engine = open_engine(f"sqlite:///{settings.data_dir / 'enclave.db'}")
    with engine.connect() as connection:
        details = connection.execute(
            select(audit_log.c.details)
            .where(audit_log.c.action == "inference")
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        ).scalar_one()
    engine.dispose()
    return dict(json.loads(details))
