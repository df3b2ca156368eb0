"""Keys and projects in the store. Every change is written with its audit entry in the same transaction.

Synchronous on purpose: the CLI calls it directly, the server from a worker thread, and a lookup happens at
most once per key per ``cache_seconds`` (see ``access.auth``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from enclave.access.keys import Principal, Project, digest, new_key
from enclave.access.roles import ROLES, Role
from enclave.access.sessions import end_key_sessions
from enclave.audit.chain import AuditEntry, append
from enclave.audit.checkpoints import Checkpoints
from enclave.audit.signing import SigningKey
from enclave.errors import Conflict, InvalidRequest, NotFound
from enclave.store.db import now_us
from enclave.store.schema import api_keys, projects

PROJECT_FIELDS = (
    "data_class",
    "allowed_models",
    "allowed_zones",
    "rpm",
    "tpm",
    "monthly_budget",
    "budget_action",
    "retention_days",
)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Everything about a key but the key: safe to list, log and return."""

    prefix: str
    name: str
    role: str
    project: str | None
    rpm: int | None
    tpm: int | None
    created_us: int
    expires_us: int | None
    revoked_us: int | None

    def state(self, now: int) -> str:
        if self.revoked_us is not None:
            return "revoked"
        if self.expires_us is not None and self.expires_us <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class StoredKey:
    info: KeyInfo
    secret_hash: str
    project: Project | None


def _project(row: Row[Any], prefix: str = "") -> Project:
    value = row._mapping
    models, zones = value[prefix + "allowed_models"], value[prefix + "allowed_zones"]
    return Project(
        value[prefix + "name"],
        value[prefix + "data_class"],
        tuple(models) if models is not None else None,
        tuple(zones) if zones is not None else None,
        value[prefix + "rpm"],
        value[prefix + "tpm"],
        value[prefix + "monthly_budget"],
        value[prefix + "budget_action"],
        value[prefix + "retention_days"],
    )


_PROJECT_COLUMNS = tuple(column.label(f"project_{column.name}") for column in projects.c)


_KEY_COLUMNS = (
    api_keys.c.prefix,
    api_keys.c.secret_hash,
    api_keys.c.name,
    api_keys.c.role,
    api_keys.c.rpm,
    api_keys.c.tpm,
    api_keys.c.created_us,
    api_keys.c.expires_us,
    api_keys.c.revoked_us,
)


def _key_info(row: Row[*tuple[Any, ...]], project: str | None) -> KeyInfo:
    return KeyInfo(
        row.prefix, row.name, row.role, project, row.rpm, row.tpm, row.created_us, row.expires_us, row.revoked_us
    )


class _Change:
    """One transaction's connection, and the chain head after its audit entry."""

    def __init__(self, connection: Connection, key: SigningKey | None) -> None:
        self.connection = connection
        self.head: tuple[int, str] | None = None
        self._key = key

    def audit(self, entry: AuditEntry) -> None:
        self.head = append(self.connection, [entry], self._key)


class Directory:
    def __init__(self, engine: Engine, checkpoints: Checkpoints | None = None) -> None:
        self.engine = engine
        self._checkpoints = checkpoints

    @contextmanager
    def _change(self) -> Iterator[_Change]:
        """A change and its audit entry in one transaction; once committed, the new head is signed at once (a
        CLI process may end before any server writes its next checkpoint)."""
        with self.engine.begin() as connection:
            change = _Change(connection, self._checkpoints.key if self._checkpoints else None)
            yield change
        if change.head is not None and self._checkpoints is not None:
            self._checkpoints.write(*change.head)

    # --- keys ------------------------------------------------------------------------------------------------

    def create_key(
        self,
        actor: str,
        name: str,
        role: str,
        project: str | None = None,
        expires_us: int | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
    ) -> tuple[str, KeyInfo]:
        """A new key, returned once; only its digest is stored."""
        if role not in ROLES:
            raise InvalidRequest(f"role must be one of {', '.join(ROLES)}, got {role!r}", param="role")
        if expires_us is not None and expires_us <= now_us():
            raise InvalidRequest("the expiry is in the past", param="expires_at")
        key, prefix = new_key()
        with self._change() as change:
            project_id = self._project_id(change.connection, project) if project is not None else None
            created = now_us()
            change.connection.execute(
                insert(api_keys).values(
                    prefix=prefix,
                    secret_hash=digest(key),
                    name=name,
                    role=role,
                    project_id=project_id,
                    rpm=rpm,
                    tpm=tpm,
                    created_us=created,
                    expires_us=expires_us,
                )
            )
            change.audit(
                AuditEntry(
                    actor, "key.create", "ok", project, prefix, {"name": name, "role": role, "expires_us": expires_us}
                )
            )
        return key, KeyInfo(prefix, name, role, project, rpm, tpm, created, expires_us, None)

    def revoke_key(self, actor: str, prefix: str) -> KeyInfo:
        with self._change() as change:
            stored = self._key(change.connection, prefix)
            if stored is None:
                raise NotFound(f"no key with prefix {prefix!r}")
            if stored.info.revoked_us is None:
                revoked = now_us()
                change.connection.execute(
                    update(api_keys).where(api_keys.c.prefix == prefix).values(revoked_us=revoked)
                )
                end_key_sessions(change.connection, prefix)  # its dashboard sessions end with it
                change.audit(AuditEntry(actor, "key.revoke", "ok", stored.info.project, prefix))
                return KeyInfo(**{**asdict(stored.info), "revoked_us": revoked})
        return stored.info

    def list_keys(self) -> list[KeyInfo]:
        query = (
            select(*_KEY_COLUMNS, projects.c.name.label("project"))
            .select_from(api_keys.outerjoin(projects))
            .order_by(api_keys.c.created_us)
        )
        with self.engine.connect() as connection:
            return [_key_info(row, row.project) for row in connection.execute(query)]

    def find_key(self, prefix: str) -> StoredKey | None:
        with self.engine.connect() as connection:
            return self._key(connection, prefix)

    def _key(self, connection: Connection, prefix: str) -> StoredKey | None:
        # The prefix is a bound parameter, never text spliced into SQL.
        query = (
            select(*_KEY_COLUMNS, *_PROJECT_COLUMNS)
            .select_from(api_keys.outerjoin(projects))
            .where(api_keys.c.prefix == prefix)
        )
        row = connection.execute(query).first()
        if row is None:
            return None
        project = _project(row, "project_") if row.project_name is not None else None
        info = KeyInfo(
            row.prefix,
            row.name,
            row.role,
            project.name if project else None,
            row.rpm,
            row.tpm,
            row.created_us,
            row.expires_us,
            row.revoked_us,
        )
        return StoredKey(info, row.secret_hash, project)

    # --- projects --------------------------------------------------------------------------------------------

    def create_project(self, actor: str, project: Project) -> Project:
        values = {f: getattr(project, f) for f in PROJECT_FIELDS}
        try:
            with self._change() as change:
                change.connection.execute(
                    insert(projects).values(name=project.name, created_us=now_us(), **_listy(values))
                )
                change.audit(AuditEntry(actor, "project.create", "ok", project.name, project.name, _listy(values)))
        except IntegrityError as exc:
            raise Conflict(f"project {project.name!r} already exists") from exc
        return project

    def update_project(self, actor: str, name: str, changes: dict[str, Any]) -> Project:
        unknown = set(changes) - set(PROJECT_FIELDS)
        if unknown:
            raise InvalidRequest(f"unknown project setting {sorted(unknown)[0]!r}", param=sorted(unknown)[0])
        with self._change() as change:
            self._project_id(change.connection, name)
            change.connection.execute(update(projects).where(projects.c.name == name).values(**_listy(changes)))
            change.audit(AuditEntry(actor, "project.update", "ok", name, name, _listy(changes)))
            return _project(change.connection.execute(select(projects).where(projects.c.name == name)).one())

    def list_projects(self) -> list[Project]:
        with self.engine.connect() as connection:
            return [_project(row) for row in connection.execute(select(projects).order_by(projects.c.name))]

    def project(self, name: str) -> Project:
        with self.engine.connect() as connection:
            row = connection.execute(select(projects).where(projects.c.name == name)).first()
        if row is None:
            raise NotFound(f"no project named {name!r}")
        return _project(row)

    def _project_id(self, connection: Connection, name: str) -> int:
        found = connection.execute(select(projects.c.id).where(projects.c.name == name)).scalar()
        if found is None:
            raise NotFound(f"no project named {name!r}", param="project")
        return int(found)


def _listy(values: dict[str, Any]) -> dict[str, Any]:
    """Tuples as lists, so JSON columns and audit details store them the same way on every database."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def principal_of(stored: StoredKey) -> Principal:
    role: Role = stored.info.role  # type: ignore[assignment]
    return Principal(stored.info.prefix, role, stored.project, stored.info.rpm, stored.info.tpm, stored.info.expires_us)
