"""With auth on, a project is the key's own: a key cannot claim another project's rules or budget by naming it
in a header or in metadata, and a key bound to a project does not read every project's traffic in /metrics.
On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.servers import enclave, running_server, write_config
from tests.stores import database

CHAT = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 2}


@dataclass
class Server:
    url: str
    admin: str

    def key(self, role: str, project: str | None = None) -> str:
        body = {"name": f"{role}-{project}", "role": role, **({"project": project} if project else {})}
        made = httpx.post(f"{self.url}/admin/keys", json=body, headers=_bearer(self.admin))
        assert made.status_code == 201, made.text
        return made.json()["key"]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"projects-{request.param}")
    with database(request.param, directory) as url:
        # The project "sealed" is denied by policy: whoever follows its rules gets a 403.
        settings = {
            "auth": {"mode": "on"},
            "store": {"url": url},
            "ledger": {"flush_seconds": 0.1},
            "policy": {"rules": [{"name": "sealed-off", "when": {"projects": ["sealed"]}, "action": "deny"}]},
        }
        config = write_config(directory, settings, context=512, parallel=2, threads=2)
        made = enclave("keys", "create", "--name", "ops", "--role", "admin", config=config)
        assert made.returncode == 0, made.stderr
        with running_server(config, directory / "server.log") as base:
            admin = made.stdout.strip()
            for name in ("sealed", "open"):
                created = httpx.post(f"{base}/admin/projects", json={"name": name}, headers=_bearer(admin))
                assert created.status_code == 201, created.text
            yield Server(base, admin)


def test_a_key_without_a_project_cannot_claim_one(server: Server) -> None:
    key = server.key("developer")
    claims = [({"x-enclave-project": "sealed"}, CHAT), ({}, {**CHAT, "metadata": {"project": "sealed"}})]
    ids = []
    for headers, body in claims:
        response = httpx.post(
            f"{server.url}/v1/chat/completions", json=body, timeout=60, headers={**_bearer(key), **headers}
        )
        assert response.status_code == 200, response.text  # the project's deny rule was not followed
        ids.append(response.headers["x-request-id"])
    # Its own project's rules do apply to a key bound to it.
    bound = server.key("developer", "sealed")
    denied = httpx.post(f"{server.url}/v1/chat/completions", json=CHAT, headers=_bearer(bound), timeout=60)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "policy_denied"
    # The claimed project is not charged: the two requests are nobody's project in the ledger.
    deadline = time.monotonic() + 30
    while True:
        rows = httpx.get(
            f"{server.url}/admin/usage", params={"by": "project,status"}, headers=_bearer(server.admin)
        ).json()["data"]
        unclaimed = [r for r in rows if r["project"] is None and r["status"] == "ok"]
        if unclaimed and unclaimed[0]["requests"] >= 2:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)
    assert not [r for r in rows if r["project"] == "sealed" and r["status"] == "ok"]


def test_a_viewer_bound_to_a_project_reads_its_usage_not_everyones_metrics(server: Server) -> None:
    bound = server.key("viewer", "open")
    refused = httpx.get(f"{server.url}/metrics", headers=_bearer(bound))
    assert refused.status_code == 403
    assert (
        refused.json()["error"]["type"] == "permission_error" and "/admin/usage" in refused.json()["error"]["message"]
    )
    usage = httpx.get(f"{server.url}/admin/usage", params={"by": "project"}, headers=_bearer(bound))
    assert usage.status_code == 200 and all(r["project"] == "open" for r in usage.json()["data"])
    unbound = server.key("viewer")
    assert httpx.get(f"{server.url}/metrics", headers=_bearer(unbound)).status_code == 200
