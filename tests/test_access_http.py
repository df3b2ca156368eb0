"""Keys, roles, limits and budgets over HTTP, against real servers on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.servers import enclave, running_server, write_config
from tests.stores import database
from tests.waiting import wait_until

T = TypeVar("T")
CHAT = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 2, "temperature": 0}


@dataclass
class Server:
    url: str
    config: Path
    log: Path
    keys: dict[str, str]
    store: str

    def client(self, role: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"auth-{request.param}")
    with database(request.param, directory) as url:
        settings = {
            "auth": {"mode": "on", "cache_seconds": 1.0},
            "store": {"url": url},
            "ledger": {"flush_seconds": 0.2},
            "audit": {"checkpoint_seconds": 0},
            "prices": {"hourly": {"embedded": 3600.0}},
        }
        config = write_config(directory, settings, context=512, parallel=4, threads=2)
        made = enclave("keys", "create", "--name", "bootstrap", "--role", "admin", config=config)
        assert made.returncode == 0, made.stderr
        keys = {"admin": made.stdout.strip()}
        with running_server(config, directory / "server.log") as base:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['admin']}"}) as admin:
                for role in ("developer", "viewer", "auditor"):
                    response = admin.post("/admin/keys", json={"name": role, "role": role})
                    assert response.status_code == 201, response.text
                    keys[role] = response.json()["key"]
            yield Server(base, config, directory / "server.log", keys, url)


ROLES = ("admin", "developer", "viewer", "auditor")
# (method, path, body, roles allowed)
MATRIX = [
    ("GET", "/metrics", None, {"admin", "viewer"}),
    ("GET", "/v1/models", None, {"admin", "developer"}),
    ("GET", "/v1/models/smollm2-135m", None, {"admin", "developer"}),
    ("POST", "/v1/chat/completions", CHAT, {"admin", "developer"}),
    ("POST", "/v1/completions", {"model": "smollm2-135m", "prompt": "Hi", "max_tokens": 2}, {"admin", "developer"}),
    ("POST", "/v1/guard/scan", {"text": "mail me at a@b.example"}, {"admin", "developer"}),
    ("GET", "/admin/keys", None, {"admin"}),
    ("POST", "/admin/keys", {"name": "matrix", "role": "viewer"}, {"admin"}),
    ("POST", "/admin/keys/enc_00000000/revoke", None, {"admin"}),
    ("DELETE", "/admin/keys/enc_00000000", None, {"admin"}),
    ("GET", "/admin/projects", None, {"admin"}),
    ("POST", "/admin/projects", {"name": "matrix-{role}"}, {"admin"}),
    ("PATCH", "/admin/projects/nonexistent", {"rpm": 10}, {"admin"}),
    ("GET", "/admin/usage", None, {"admin", "viewer"}),
    ("GET", "/admin/audit", None, {"admin", "auditor"}),
    ("GET", "/admin/audit/verify", None, {"admin", "auditor"}),
]


def _send(client: httpx.Client, method: str, path: str, body: object, role: str) -> httpx.Response:
    if isinstance(body, dict) and "name" in body and "{role}" in str(body["name"]):
        body = {**body, "name": body["name"].format(role=role)}
    return client.request(method, path, json=body) if body is not None else client.request(method, path)


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX])
def test_role_endpoint_matrix(server: Server, method: str, path: str, body: object, allowed: set[str]) -> None:
    for role in ROLES:
        with server.client(role) as client:
            response = _send(client, method, path, body, role)
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)
            assert response.json()["error"]["type"] == "permission_error"
    with server.client(None) as anonymous:
        response = _send(anonymous, method, path, body, "anonymous")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_health_needs_no_key(server: Server) -> None:
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_wrong_and_malformed_keys_are_401(server: Server) -> None:
    real = server.keys["developer"]
    for bad in (real[:-1] + ("A" if real[-1] != "A" else "B"), "enc_zzzzzzzz_whatever", "sk-not-ours", "enc_"):
        response = httpx.post(
            f"{server.url}/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {bad}"}
        )
        assert response.status_code == 401
        assert bad not in response.text


def test_revoked_key_is_refused_at_once(server: Server) -> None:
    with server.client("admin") as admin:
        made = admin.post("/admin/keys", json={"name": "short-lived", "role": "developer"}).json()
        key = made["key"]
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as user:
            assert user.get("/v1/models").status_code == 200  # now cached
            assert admin.post(f"/admin/keys/{made['prefix']}/revoke").json()["state"] == "revoked"
            refused = user.get("/v1/models")
            assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]


def test_key_revoked_from_the_cli_is_refused_within_the_cache_time(server: Server) -> None:
    with server.client("admin") as admin:
        made = admin.post("/admin/keys", json={"name": "cli-revoked", "role": "developer"}).json()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {made['key']}"}) as user:
        assert user.get("/v1/models").status_code == 200
        revoked = enclave("keys", "revoke", made["prefix"], config=server.config)
        assert revoked.returncode == 0, revoked.stderr
        # Once the server's cached record (auth.cache_seconds: 1) is read again.
        wait_until(lambda: user.get("/v1/models").status_code == 401, message="the revoked key refused")


def test_expired_key_is_refused(server: Server) -> None:
    with server.client("admin") as admin:
        made = admin.post(
            "/admin/keys", json={"name": "brief", "role": "developer", "expires_in_days": 2 / 86400}
        ).json()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {made['key']}"}) as user:
        assert user.get("/v1/models").status_code == 200

        def refused() -> httpx.Response | None:
            response = user.get("/v1/models")
            return response if response.status_code == 401 else None

        response = wait_until(refused, message="the key refused once it expired (2 s)")
        assert "expired" in response.json()["error"]["message"]


def test_bad_admin_input_is_400_not_500(server: Server) -> None:
    with server.client("admin") as admin:
        assert admin.post("/admin/keys", json={"name": "x", "role": "root"}).status_code == 400
        assert (
            admin.post("/admin/keys", content=b'{"name": "x", "role": "viewer", "expires_in_days": 1e308}').status_code
            == 400
        )
        assert admin.post("/admin/projects", json={"name": "nan", "monthly_budget": "NaN"}).status_code == 400
        assert admin.post("/admin/keys", json={"name": "x", "role": "developer", "project": "nope"}).status_code == 404
        assert admin.post("/admin/projects", content=b"{not json").status_code == 400
        assert admin.post("/admin/projects", json={"name": "bad name!"}).status_code == 400
        assert admin.post("/admin/projects", json={"name": "dup"}).status_code == 201
        assert admin.post("/admin/projects", json={"name": "dup"}).status_code == 409
        assert admin.patch("/admin/projects/dup", json={}).status_code == 400
        assert admin.get("/admin/usage", params={"by": "colour"}).status_code == 400


def _project_key(server: Server, project: dict[str, object], **key: object) -> str:
    with server.client("admin") as admin:
        created = admin.post("/admin/projects", json=project)
        assert created.status_code == 201, created.text
        made = admin.post(
            "/admin/keys",
            json={"name": f"{project['name']}-dev", "role": "developer", "project": project["name"], **key},
        )
        assert made.status_code == 201, made.text
        return made.json()["key"]


def within_one_minute(scenario: Callable[[str], T]) -> T:
    """What ``scenario(suffix)`` returns from a run that started and ended in the same clock minute: the limiter's
    windows slide, so across a minute's end the previous minute counts only in part (by design, see
    enclave.access.limits), and a busy machine makes a run more likely to cross one. Each run gets its own
    suffix for the names it creates."""
    for attempt in range(3):
        minute = time.time() // 60
        result = scenario(f"-{attempt}")
        if time.time() // 60 == minute:
            return result
    raise AssertionError("three runs in a row crossed the end of a minute")


def test_rate_limit_per_key_with_openai_headers(server: Server) -> None:
    def run(suffix: str) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        key = _project_key(server, {"name": f"rl-key{suffix}"}, rpm=2)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as user:
            return (
                user.post("/v1/chat/completions", json=CHAT),
                user.post("/v1/chat/completions", json=CHAT),
                user.post("/v1/chat/completions", json=CHAT),
            )

    first, second, refused = within_one_minute(run)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert second.status_code == 200
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


def test_project_limit_is_shared_by_its_keys_and_the_tightest_wins(server: Server) -> None:
    def run(suffix: str) -> list[int]:
        key_a = _project_key(server, {"name": f"rl-project{suffix}", "rpm": 3}, rpm=100)
        with server.client("admin") as admin:
            key_b = admin.post(
                "/admin/keys", json={"name": f"second{suffix}", "role": "developer", "project": f"rl-project{suffix}"}
            ).json()["key"]
        statuses = []
        for key in (key_a, key_b, key_a, key_b):
            response = httpx.post(
                f"{server.url}/v1/chat/completions", json=CHAT, timeout=60, headers={"Authorization": f"Bearer {key}"}
            )
            statuses.append(response.status_code)
        return statuses

    assert within_one_minute(run) == [200, 200, 200, 429]


def test_tokens_per_minute(server: Server) -> None:
    def run(suffix: str) -> tuple[httpx.Response, httpx.Response]:
        key = _project_key(server, {"name": f"tpm{suffix}", "tpm": 120})
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as user:
            return (
                user.post("/v1/chat/completions", json={**CHAT, "max_tokens": 40}),
                user.post("/v1/chat/completions", json={**CHAT, "max_tokens": 100}),
            )

    ok, refused = within_one_minute(run)
    assert ok.status_code == 200 and ok.headers["x-ratelimit-limit-tokens"] == "120"
    assert refused.status_code == 429 and "tokens per minute" in refused.json()["error"]["message"]


def test_budget_blocks_once_spent(server: Server) -> None:
    # Price sheet: the embedded engine costs 3600/h, so every busy second costs 1.
    key = _project_key(server, {"name": "budget-block", "monthly_budget": 0.0001})
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as user:
        assert user.post("/v1/chat/completions", json=CHAT).status_code == 200
        refused = user.post("/v1/chat/completions", json=CHAT)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "insufficient_quota"
    assert float(refused.headers["x-enclave-budget-spent"]) > 0.0001


def test_budget_warns_without_blocking(server: Server) -> None:
    key = _project_key(server, {"name": "budget-warn", "monthly_budget": 0.0001, "budget_action": "warn"})
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as user:
        for _ in range(2):
            response = user.post("/v1/chat/completions", json=CHAT)
            assert response.status_code == 200
    assert float(response.headers["x-enclave-budget-spent"]) > 0.0001


def test_project_policy_models_zones_and_data_class(server: Server) -> None:
    key = _project_key(server, {"name": "locked", "allowed_models": ["other-model"], "data_class": "restricted"})
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as user:
        assert user.get("/v1/models").json()["data"] == []
        refused = user.post("/v1/chat/completions", json=CHAT)
        assert refused.status_code == 403
    key = _project_key(server, {"name": "floor", "data_class": "restricted"})
    response = httpx.post(
        f"{server.url}/v1/chat/completions",
        json=CHAT,
        timeout=60,
        headers={"Authorization": f"Bearer {key}", "x-enclave-data-class": "public"},
    )
    assert response.headers["x-enclave-data-class"] == "restricted"


def test_ledger_and_audit_record_requests_without_keys_or_prompts(server: Server) -> None:
    key = _project_key(server, {"name": "ledger", "retention_days": 1})
    secret_prompt = "The launch code is PELICAN-42"
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as user:
        for _ in range(3):
            body = {**CHAT, "messages": [{"role": "user", "content": secret_prompt}]}
            assert user.post("/v1/chat/completions", json=body).status_code == 200
    with server.client("admin") as admin:

        def written() -> list[dict] | None:  # by the ledger's background writer (flush_seconds: 0.2)
            rows = admin.get("/admin/usage", params={"by": "project,model,zone", "project": "ledger"}).json()["data"]
            audit = admin.get("/admin/audit", params={"limit": 1000}).json()["data"]
            done = sum(e["action"] == "inference" and e["project"] == "ledger" for e in audit) == 3
            return rows if done and rows and rows[0]["requests"] == 3 else None

        rows = wait_until(written, message="the three requests written to the ledger and the audit log")
        assert rows == [{**rows[0], "project": "ledger", "requests": 3, "errors": 0}]
        assert rows[0]["completion_tokens"] == 6 and rows[0]["cost"] > 0
        audit = admin.get("/admin/audit", params={"limit": 1000}).json()["data"]
        assert admin.get("/admin/audit/verify").json()["ok"] is True
    inference = [e for e in audit if e["action"] == "inference" and e["project"] == "ledger"]
    assert len(inference) == 3 and all(e["outcome"] == "ok" for e in inference)
    dump = str(audit)
    assert secret_prompt not in dump
    assert all(k not in dump for k in server.keys.values()) and key not in dump
    log = server.log.read_text()
    assert all(k not in log for k in server.keys.values()) and key not in log and secret_prompt not in log
