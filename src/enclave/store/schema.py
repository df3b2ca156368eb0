"""The tables. Times are integer microseconds since the epoch (exact and identical on SQLite and PostgreSQL,
which matters for the audit hash chain); usage rows also carry their UTC day and month as text, so summaries
group the same way on both databases."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("data_class", String(16), nullable=True),  # the floor for every request of the project
    Column("allowed_models", JSON, nullable=True),  # null: every model
    Column("allowed_zones", JSON, nullable=True),  # null: every zone the policy allows
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("monthly_budget", Float, nullable=True),
    Column("budget_action", String(8), nullable=False, default="block"),
    Column("retention_days", Integer, nullable=False, default=0),  # 0: prompts and answers are not kept
    Column("created_us", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("prefix", String(16), nullable=False, unique=True),  # shown in listings, logs and audit
    Column("secret_hash", String(64), nullable=False),  # SHA-256 of the whole key; the key itself is never kept
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=True),
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=True),
    Column("revoked_us", BigInteger, nullable=True),
)

usage = Table(
    "usage",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("request_id", String(40), nullable=False, unique=True),
    Column("at_us", BigInteger, nullable=False),
    Column("day", String(10), nullable=False),
    Column("month", String(7), nullable=False),
    Column("key_prefix", String(16), nullable=True),
    Column("project", String(64), nullable=True),
    Column("endpoint", String(16), nullable=False),
    Column("model", String(128), nullable=False),
    Column("target", String(256), nullable=True),
    Column("zone", String(8), nullable=True),
    Column("rule", String(64), nullable=True),
    Column("data_class", String(16), nullable=True),
    Column("status", String(32), nullable=False),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("cached_tokens", Integer, nullable=False, default=0),
    Column("latency_ms", Float, nullable=False),
    Column("ttft_ms", Float, nullable=True),
    Column("compute_seconds", Float, nullable=True),
    Column("cost", Float, nullable=False, default=0.0),
    Column("guard", String(512), nullable=True),  # entity types and counts, never values
    Column("tools", String(1024), nullable=True),  # tool names called and counts, never arguments (bounded)
    Column("constrained", Boolean, nullable=False, default=False, server_default=false()),
)
Index("usage_project_month", usage.c.project, usage.c.month)
Index("usage_day", usage.c.day)

# Usage summed per UTC day and (project, model, target, zone), kept in the transaction that writes the usage rows
# (see ledger/rollup.py), so reports over months of traffic read thousands of rows, not millions, and agree with
# the usage table exactly. "" stands for none (a NULL would not match itself in the primary key).
usage_daily = Table(
    "usage_daily",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("project", String(64), primary_key=True),
    Column("model", String(128), primary_key=True),
    Column("target", String(256), primary_key=True),
    Column("zone", String(8), primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("busy_seconds", Float, nullable=False),
    Column("cost", Float, nullable=False),
    Column("errors", BigInteger, nullable=False, server_default="0"),  # requests whose status was not "ok"
)

# The same sums per UTC day, key and (project, zone), kept in the same transaction: the dashboard's by-key table.
usage_daily_keys = Table(
    "usage_daily_keys",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("key_prefix", String(16), primary_key=True),
    Column("project", String(64), primary_key=True),
    Column("zone", String(8), primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("busy_seconds", Float, nullable=False),
    Column("cost", Float, nullable=False),
    Column("errors", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("project", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("resource", String(256), nullable=True),
    Column("outcome", String(64), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON, hashed as stored
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # On a batch's last entry: the writer's Ed25519 signature over the entries it wrote (``sealed_from`` to
    # this one). Not part of the hash: it signs the hash.
    Column("sealed_from", BigInteger, nullable=True),
    Column("seal", String(128), nullable=True),
)

# One row: the chain's length and last hash. Appending updates it first, which takes the write lock on both
# SQLite and PostgreSQL, so replicas append one after another and the chain never forks.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

retained = Table(
    "retained_messages",
    metadata,
    Column("request_id", String(40), primary_key=True),
    Column("project", String(64), nullable=True),
    Column("at_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False, index=True),
    Column("prompt", Text, nullable=False),  # JSON: the messages or the prompt as received
    Column("answer", Text, nullable=False),
)

# Rows the database refused for what they held (see ledger/dead_letters.py): kept here with the reason, as
# ASCII JSON, so one bad row never blocks the rows written after it.
dead_letters = Table(
    "ledger_dead_letters",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # usage | audit | retained
    Column("error", String(512), nullable=False),
    Column("payload", Text, nullable=False),
)

# Dashboard sessions (see access/sessions.py): the browser's cookie holds a random id, this table its SHA-256 and
# who is signed in: a key's prefix (its sessions end when it is revoked), or an SSO subject with its mapped role.
ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("actor", String(64), nullable=False),  # the key's prefix, or "sso:<subject>"
    Column("key_prefix", String(16), nullable=True, index=True),  # null for SSO sessions
    Column("role", String(16), nullable=False),
    Column("project", String(64), nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),  # absolute end, whatever the activity
    Column("seen_us", BigInteger, nullable=False),  # last use, for the idle timeout
)

# SSO sign-ins under way: keyed by the hash of a random id in a short-lived cookie, so the provider's answer is
# accepted only in the browser that asked, with the state, nonce and PKCE verifier generated for it.
ui_sso_logins = Table(
    "ui_sso_logins",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("state", String(64), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("expires_us", BigInteger, nullable=False),
)
