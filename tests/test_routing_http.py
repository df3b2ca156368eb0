"""Hybrid routing end to end: a real enclave in front of a fake hosted API and its own embedded engine.

The fake records everything it receives, so "never reached the external provider" is asserted on what it
actually got, not on what enclave says it did.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from tests.fake_upstream import REPLY, FakeUpstream, fake_upstream
from tests.servers import free_port, running_server
from tests.waiting import wait_until

SECRET = "sk-test-SECRET-4242"
LOCAL = "embedded/smollm2-135m"
SCENARIOS = ["ok", "fail500", "busy429", "busy429.retry", "hang", "early-close", "midstream", "switch", "unauthorized"]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def gateway(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("routing")
    config = {
        "data_dir": str(directory),
        "models": [{"name": "smollm2-135m", "context": 1024, "parallel": 4, "threads": 2}],
        "providers": [
            {
                "name": "hosted",
                "base_url": fake.url,
                "zone": "external",
                "api_key_env": "HOSTED_KEY",
                "retries": 1,
                "backoff": 0.05,
                "timeouts": {"connect": 1, "first_token": 1.5, "idle": 1.5, "total": 5},
                "circuit": {"failures": 2, "cooldown": 1.5},
            },
            {
                "name": "gone",
                "base_url": f"http://127.0.0.1:{free_port()}/v1",
                "zone": "external",
                "retries": 1,
                "backoff": 0.05,
            },
            # The same upstream with a cooldown no test outlasts: "open" can be checked without a race.
            {
                "name": "held",
                "base_url": fake.url,
                "zone": "external",
                "retries": 0,
                "circuit": {"failures": 2, "cooldown": 3600},
            },
        ],
        "routes": [{"name": f"via-{s}", "targets": [f"hosted/{s}", LOCAL]} for s in SCENARIOS]
        + [
            {"name": "via-gone", "targets": ["gone/ok", LOCAL]},
            {"name": "via-held", "targets": ["held/fail500", LOCAL]},
            {"name": "hosted-only", "targets": ["hosted/unauthorized"]},
        ],
    }
    path = directory / "enclave.yaml"
    path.write_text(yaml.safe_dump(config))
    log = directory / "server.log"
    with running_server(path, log, env={"HOSTED_KEY": SECRET}) as url:
        yield url, log


def chat(url: str, model: str, content: str = "Say hello.", headers: dict | None = None, **extra) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 8, **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers or {}, timeout=30)


def sse(url: str, model: str, content: str = "Say hello.") -> tuple[httpx.Headers, list[str]]:
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 8, "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        return response.headers, [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


def streamed_text(events: list[str]) -> str:
    chunks = [json.loads(e) for e in events if e != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


def test_public_request_goes_to_the_hosted_model_with_its_key(gateway, fake) -> None:
    url, _ = gateway
    before = fake.count("ok")
    response = chat(url, "via-ok")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == REPLY
    assert response.json()["model"] == "ok"  # the model that answered
    assert response.headers["x-enclave-route"] == "hosted/ok"
    assert response.headers["x-enclave-zone"] == "external"
    assert response.headers["x-enclave-rule"] == "default"
    assert fake.count("ok") == before + 1
    assert fake.received[-1].headers["authorization"] == f"Bearer {SECRET}"


def test_streaming_passes_through_chunk_by_chunk(gateway) -> None:
    url, _ = gateway
    headers, events = sse(url, "via-ok")
    assert headers["x-enclave-route"] == "hosted/ok"
    assert events[-1] == "[DONE]"
    assert streamed_text(events) == REPLY
    assert len([e for e in events if '"content":"' in e and '"content":""' not in e]) == len(REPLY.split(" "))


@pytest.mark.parametrize("how", ["header", "metadata"])
@pytest.mark.parametrize("data_class", ["confidential", "restricted"])
def test_confidential_request_never_reaches_external(gateway, fake, how: str, data_class: str) -> None:
    url, _ = gateway
    marker = f"patient Jane Roe MRN-{data_class}-{how}-0042"
    if how == "header":
        response = chat(url, "via-ok", marker, headers={"x-enclave-data-class": data_class})
    else:
        response = chat(url, "via-ok", marker, metadata={"data_class": data_class})
    assert response.status_code == 200
    assert response.headers["x-enclave-route"] == LOCAL
    assert response.headers["x-enclave-zone"] == "local"
    assert response.headers["x-enclave-rule"] == "sovereignty"
    assert response.headers["x-enclave-data-class"] == data_class
    assert marker not in fake.texts()


def test_unknown_data_class_is_a_bad_request(gateway) -> None:
    url, _ = gateway
    response = chat(url, "via-ok", headers={"x-enclave-data-class": "top-secret"})
    assert response.status_code == 400 and "data class" in response.json()["error"]["message"]


@pytest.mark.parametrize("model", ["via-fail500", "via-busy429", "via-gone", "via-early-close"])
def test_failing_upstream_falls_back_to_local_transparently(gateway, model: str) -> None:
    url, _ = gateway
    response = chat(url, model)
    assert response.status_code == 200, response.text
    assert response.headers["x-enclave-route"] == LOCAL
    assert response.json()["choices"][0]["message"]["content"]
    headers, events = sse(url, model)
    assert headers["x-enclave-route"] == LOCAL and events[-1] == "[DONE]"


def test_retries_before_failing_over(gateway, fake) -> None:
    url, _ = gateway
    response = chat(url, "via-busy429.retry")
    assert response.headers["x-enclave-route"] == LOCAL
    assert fake.count("busy429.retry") == 2  # one try and one retry (retries: 1), then the local model


def test_silent_upstream_times_out_and_fails_over_within_budget(gateway, fake) -> None:
    url, _ = gateway
    before = fake.count("hang")
    # The client's own deadline (30 s) is the budget's check: the upstream hangs for an hour, so an answer at
    # all means its timeout (a whole answer's deadline, total, is 5 s) failed over to the local model.
    response = chat(url, "via-hang")
    assert response.status_code == 200 and response.headers["x-enclave-route"] == LOCAL
    assert fake.count("hang") == before + 1  # a timeout is failed over at once, never retried in place


def test_stream_dying_mid_way_ends_with_an_error_event_not_a_clean_finish(gateway) -> None:
    url, _ = gateway
    headers, events = sse(url, "via-midstream")
    assert headers["x-enclave-route"] == "hosted/midstream"
    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["code"] == "upstream_error" and "broke off" in error["message"]
    finishes = [c["choices"][0]["finish_reason"] for c in map(json.loads, events[:-1]) if c.get("choices")]
    assert not any(finishes)
    with pytest.raises(openai.APIError):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        for _ in client.chat.completions.create(
            model="via-midstream", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            pass


def test_open_circuit_sends_nothing_to_its_target(gateway, fake) -> None:
    url, _ = gateway
    for _ in range(2):  # failures: 2 opens the circuit
        assert chat(url, "via-held").headers["x-enclave-route"] == LOCAL
    health = httpx.get(f"{url}/health", timeout=5).json()
    assert health["providers"]["held"]["targets"]["fail500"]["state"] == "open"
    sent = fake.count("fail500")
    assert chat(url, "via-held").headers["x-enclave-route"] == LOCAL
    assert fake.count("fail500") == sent  # open (for an hour): not even tried


def test_circuit_breaker_opens_then_probes_and_closes(gateway, fake) -> None:
    url, _ = gateway
    fake.healthy = False
    for _ in range(2):  # failures: 2 opens the circuit
        assert chat(url, "via-switch").headers["x-enclave-route"] == LOCAL
    health = httpx.get(f"{url}/health", timeout=5).json()
    assert health["providers"]["hosted"]["targets"]["switch"]["state"] == "open"
    fake.healthy = True
    # Answered locally until the cooldown (1.5 s) has passed; then the probe goes, succeeds, and closes the
    # circuit (the probe's rules, on a clock of the test's own: tests/test_circuit_breaker.py).
    wait_until(
        lambda: chat(url, "via-switch").headers["x-enclave-route"] == "hosted/switch",
        interval=0.2,
        message="the probe answered by the recovered upstream",
    )
    assert httpx.get(f"{url}/health", timeout=5).json()["providers"]["hosted"]["targets"]["switch"]["state"] == (
        "closed"
    )
    assert chat(url, "via-switch").headers["x-enclave-route"] == "hosted/switch"


def test_upstream_key_never_appears_in_errors_health_metrics_or_logs(gateway, fake) -> None:
    url, log = gateway
    response = chat(url, "hosted-only")
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "Incorrect API key provided: [redacted]" in message
    assert fake.received[-1].headers["authorization"] == f"Bearer {SECRET}"  # it was sent, to the upstream only
    headers, events = sse(url, "via-unauthorized")
    assert headers["x-enclave-route"] == LOCAL
    everything = [
        response.text,
        str(response.headers),
        "".join(events),
        httpx.get(f"{url}/health", timeout=5).text,
        httpx.get(f"{url}/metrics", timeout=5).text,
        httpx.get(f"{url}/v1/models", timeout=5).text,
        log.read_text(),
    ]
    assert not any(SECRET in text for text in everything)


@pytest.mark.parametrize(
    ("secret", "entity", "data_class"),
    [
        ("4111 1111 1111 1111", "CREDIT_CARD", "restricted"),
        ("jane.roe@example.org", "EMAIL_ADDRESS", "confidential"),
        ("MRN: 55123-B", "MEDICAL_RECORD_NUMBER", "restricted"),
    ],
)
def test_sensitive_data_found_by_the_guard_stays_local(
    gateway, fake, secret: str, entity: str, data_class: str
) -> None:
    url, _ = gateway
    response = chat(url, "via-ok", f"Please file this: {secret}")
    assert response.status_code == 200
    assert response.headers["x-enclave-route"] == LOCAL
    assert response.headers["x-enclave-data-class"] == data_class
    assert response.headers["x-enclave-guard"] == f"{entity}=1"
    assert secret not in fake.texts()
    metrics = httpx.get(f"{url}/metrics", timeout=5).text
    assert f'enclave_guard_findings_total{{entity_type="{entity}"}}' in metrics
    assert secret not in metrics
