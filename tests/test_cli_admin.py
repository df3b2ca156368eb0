"""enclave keys, projects, usage and audit as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from sqlalchemy import delete, insert, select, update

from enclave.ledger.records import UsageRecord
from enclave.store.db import now_us, open_engine
from enclave.store.schema import audit_head, audit_log, usage
from tests.servers import enclave


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "enclave.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path), "prices": {"currency": "EUR"}}))
    return path


def test_projects_and_keys_from_the_command_line(tmp_path: Path) -> None:
    config = _config(tmp_path)
    made = enclave(
        "projects",
        "create",
        "claims",
        "--data-class",
        "confidential",
        "--zones",
        "local",
        "--rpm",
        "60",
        "--budget",
        "100",
        "--retention-days",
        "30",
        config=config,
    )
    assert made.returncode == 0, made.stderr
    assert "claims" in made.stdout and "confidential" in made.stdout
    assert enclave("projects", "create", "claims", config=config).returncode == 1  # exists already
    bad = enclave("projects", "create", "x", "--zones", "mars", config=config)
    assert bad.returncode == 2 and "allowed_zones" in bad.stderr
    changed = enclave("projects", "update", "claims", "--budget-action", "warn", config=config)
    assert changed.returncode == 0 and "warn" in changed.stdout

    key = enclave("keys", "create", "--name", "app", "--project", "claims", config=config)
    assert key.returncode == 0 and key.stdout.startswith("enc_")
    secret = key.stdout.strip()
    listed = enclave("keys", "list", config=config)
    assert secret[:12] in listed.stdout and secret not in listed.stdout
    assert enclave("keys", "create", "--name", "x", "--role", "root", config=config).returncode == 1
    assert enclave("keys", "revoke", "enc_00000000", config=config).returncode == 1
    assert enclave("keys", "revoke", secret[:12], config=config).returncode == 0
    assert "revoked" in enclave("keys", "list", config=config).stdout

    log = enclave("audit", "list", config=config)
    assert "key.create" in log.stdout and "key.revoke" in log.stdout and "project.update" in log.stdout
    verified = enclave("audit", "verify", config=config)
    assert verified.returncode == 0 and "intact" in verified.stdout


def test_a_change_from_the_command_line_is_signed_at_once(tmp_path: Path) -> None:
    # No server runs to write the next checkpoint: the CLI signs the head itself, so a revocation cut from the
    # log afterwards (with the head fixed up to match) is still caught.
    config = _config(tmp_path)
    secret = enclave("keys", "create", "--name", "app", config=config).stdout.strip()
    assert enclave("keys", "revoke", secret[:12], config=config).returncode == 0
    engine = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    with engine.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.action == "key.revoke"))
        last = connection.execute(select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc())).first()
        connection.execute(update(audit_head).values(seq=last.seq, hash=last.hash))
    engine.dispose()
    verified = enclave("audit", "verify", config=config)
    assert verified.returncode == 1 and "deleted" in verified.stdout


def test_usage_summary_groups_and_sums(tmp_path: Path) -> None:
    config = _config(tmp_path)
    engine = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    rows = [
        UsageRecord(
            f"r{i}",
            now_us(),
            "chat",
            "smollm2-135m",
            "ok" if i < 3 else "rate_limit_exceeded",
            10.0,
            project="claims" if i % 2 else "radiology",
            zone="local",
            prompt_tokens=10,
            completion_tokens=5,
            cost=0.5,
        ).row()
        for i in range(4)
    ]
    with engine.begin() as connection:
        connection.execute(insert(usage), rows)
    engine.dispose()
    result = enclave("usage", "--by", "project", "--json", config=config)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["currency"] == "EUR"
    by_project = {r["project"]: r for r in summary["data"]}
    assert by_project["claims"]["requests"] == 2 and by_project["claims"]["errors"] == 1
    assert by_project["radiology"]["prompt_tokens"] == 20 and by_project["radiology"]["cost"] == 1.0
    table = enclave("usage", "--by", "zone,day", config=config)
    assert table.returncode == 0 and "local" in table.stdout
    assert enclave("usage", "--by", "colour", config=config).returncode == 2
