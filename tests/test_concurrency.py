"""Many clients at once against one server: every stream runs to its end, and nobody cuts anybody off."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.waiting import wait_until

MODEL = "smollm2-135m"
TOPICS = ["the sea", "a fox", "trains", "winter", "a lighthouse", "bread", "the moon", "a clock"]


def body(topic: str, **extra: object) -> dict:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"Write a story about {topic}."}],
        "temperature": 0,
        **extra,
    }


async def stream_events(client: httpx.AsyncClient, payload: dict) -> list[str]:
    async with client.stream("POST", "/v1/chat/completions", json={**payload, "stream": True}) as response:
        assert response.status_code == 200
        return [line[6:] async for line in response.aiter_lines() if line.startswith("data: ")]


def texts_of(events: list[str]) -> str:
    chunks = [json.loads(e) for e in events if e != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_eight_concurrent_streams_all_complete_in_full(server: str) -> None:
    async def run() -> list[list[str]]:
        async with httpx.AsyncClient(base_url=server, timeout=120) as client:
            payloads = [body(t, max_tokens=48, ignore_eos=True, stream_options={"include_usage": True}) for t in TOPICS]
            return await asyncio.gather(*(stream_events(client, p) for p in payloads))

    for events in asyncio.run(run()):
        assert events[-1] == "[DONE]"
        usage = json.loads(events[-2])["usage"]
        assert usage["completion_tokens"] == 48
        finishes = [json.loads(e)["choices"][0]["finish_reason"] for e in events[:-2]]
        assert finishes[-1] == "length" and not any(finishes[:-1])


def test_concurrent_greedy_answers_equal_the_same_requests_alone(server: str) -> None:
    async def run() -> tuple[list[str], list[str]]:
        async with httpx.AsyncClient(base_url=server, timeout=120) as client:
            payloads = [body(t, max_tokens=40) for t in TOPICS]
            together = await asyncio.gather(*(stream_events(client, p) for p in payloads))
            alone = [await stream_events(client, p) for p in payloads]
            return [texts_of(e) for e in together], [texts_of(e) for e in alone]

    together, alone = asyncio.run(run())
    assert together == alone


def _active(server: str) -> int:
    return httpx.get(f"{server}/health", timeout=5).json()["models"][MODEL]["active_sequences"]


def _wait_idle(server: str) -> None:
    wait_until(lambda: _active(server) == 0, timeout=60, message="every sequence freed")


def _generated(server: str) -> float:
    """Tokens the engine has sampled since it started."""
    metrics = httpx.get(f"{server}/metrics", timeout=5).text
    return next(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "enclave_engine_generated_tokens_total"
    )


def test_client_disconnect_mid_stream_frees_the_sequence(server: str) -> None:
    before = _generated(server)
    with (
        httpx.Client(base_url=server, timeout=30) as client,
        client.stream(
            "POST", "/v1/chat/completions", json=body("a long road", max_tokens=800, ignore_eos=True, stream=True)
        ) as response,
    ):
        lines = response.iter_lines()
        received = [next(lines) for _ in range(8)]
        assert any(line.startswith("data: ") for line in received)
        assert _active(server) >= 1
    _wait_idle(server)
    # The slot came back because the client left, not because the 800 tokens ran out.
    assert _generated(server) - before < 800
    metrics = httpx.get(f"{server}/metrics", timeout=5).text
    assert 'status="cancelled"' in metrics
    after = httpx.post(f"{server}/v1/chat/completions", json=body("a cat", max_tokens=5), timeout=30)
    assert after.status_code == 200 and after.json()["choices"][0]["message"]["content"]


def test_client_giving_up_on_a_non_streaming_request_frees_the_sequence(server: str) -> None:
    def impatient() -> None:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{server}/v1/chat/completions",
                json=body("a river", max_tokens=800, ignore_eos=True),
                timeout=httpx.Timeout(1.0, connect=5),
            )

    before = _generated(server)
    thread = threading.Thread(target=impatient)
    thread.start()
    thread.join()
    _wait_idle(server)
    assert _generated(server) - before < 800


def test_full_queue_is_429_with_retry_after(tmp_path) -> None:
    import openai

    from tests.servers import running_server, write_config

    config = write_config(tmp_path, context=4096, parallel=1, queue=0, threads=2)
    with running_server(config, tmp_path / "server.log") as url, httpx.Client(base_url=url, timeout=60) as client:
        with client.stream(
            "POST", "/v1/chat/completions", json=body("a long road", max_tokens=3000, ignore_eos=True, stream=True)
        ) as running:
            # Keep the iterator: a discarded one is closed at once, and with it the connection, which cancels the
            # stream and frees the slot while this test still counts on it being taken.
            lines = running.iter_lines()
            next(lines)  # the only sequence is now taken
            refused = client.post("/v1/chat/completions", json=body("a cat", max_tokens=5))
            assert refused.status_code == 429
            assert int(refused.headers["Retry-After"]) >= 1
            assert refused.json()["error"]["code"] == "engine_overloaded"
            sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            with pytest.raises(openai.RateLimitError):
                sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        _wait_idle(url)
        assert _generated(url) < 3000  # freed when the stream was closed, not at its end
        assert client.post("/v1/chat/completions", json=body("a cat", max_tokens=5)).status_code == 200
