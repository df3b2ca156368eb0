"""Opening the store: the URL from configuration, SQLite tuned for a server, migrations applied on open."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from enclave.config import Settings
from enclave.errors import ConfigError, StoreUnavailable

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# Serializes migrations when several replicas start at once against one PostgreSQL database.
_MIGRATION_LOCK = 0x656E636C  # "encl"


def now_us() -> int:
    return time.time_ns() // 1000


def store_url(settings: Settings) -> str:
    if settings.store.url_env:
        url = os.environ.get(settings.store.url_env)
        if not url:
            raise ConfigError(f"store.url_env: environment variable {settings.store.url_env} is not set")
        return url
    return settings.store.url or f"sqlite:///{settings.data_dir / 'enclave.db'}"


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        # WAL: readers (usage reports, the CLI) never block the writer; a busy writer is waited for, not failed.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def open_engine(url: str) -> Engine:
    """An engine on ``url`` with the schema migrated to the latest revision."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"store.url: not a database URL ({exc})") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":
        _tune_sqlite(engine)
    try:
        migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        raise StoreUnavailable(
            f"cannot open the store at {parsed.render_as_string(hide_password=True)}: {exc.orig}"
        ) from exc
    return engine


def migrate_if_dropped(engine: Engine) -> bool:
    """After a write failed: when the database answers but holds no enclave tables (dropped and created again
    under the running server), migrate it again and say so; True when it did. Anything else (the database
    still away, another failure) is left to the caller's retry."""
    try:
        if inspect(engine).has_table("audit_head"):
            return False
        migrate(engine)
    except SQLAlchemyError:
        return False
    log.error(
        "the database at %s had no enclave tables (dropped and created again?): its schema is migrated "
        "again and writing goes on. Keys, projects and usage from before are not in it; its audit chain "
        "starts again at entry 1, so `enclave audit verify` reports the earlier checkpoints as rolled back",
        engine.url.render_as_string(hide_password=True),
    )
    return True


def migrate(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
