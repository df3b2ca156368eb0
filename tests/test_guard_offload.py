"""No request stalls the others: a long text is scanned off the event loop, so a stream in flight keeps
receiving tokens while a hostile text of a million characters is read; and no request may ask the guard to read
more than guard.max_chars: beyond it the guard fails closed (the request stays local, or is refused under
``block``), and /v1/guard/scan answers 413.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from enclave.config import Settings
from enclave.engines.base import ChatMessage, GenerationRequest
from enclave.errors import GuardBlocked, GuardLimitExceeded
from enclave.gateway import Gateway
from enclave.gateway.dispatch import Dispatcher
from enclave.gateway.pipeline import InferenceCall
from enclave.guard.findings import GuardReport
from enclave.guard.scanner import Guard
from enclave.routing.policy import Router
from tests.fake_upstream import FakeUpstream, fake_upstream
from tests.servers import running_server, write_config

LOCAL = "embedded/smollm2-135m"
# The shapes that once made the guard quadratic, together: a label before a long run of spaces, hyphenated
# tokens, a run of companies, JWT starts, addresses, given names, grouped digits.
HOSTILE = (
    "MRN"
    + " " * 500
    + "!\n"
    + "Ab-" * 100
    + " Acme Ltd Initech Inc Globex Corp\n"
    + "eyJ-" * 50
    + "\n221 Baker Street, London\n"
    + "Rose Grant Mark " * 10
    + "12 34 56 78 90 " * 10
    + "\n"
)


def hostile(size: int) -> str:
    return (HOSTILE * (size // len(HOSTILE) + 1))[:size]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("guard-offload")
    # Organisations on, so the companies of the hostile text are read too (they are off by default).
    guard = {"max_chars": 1_200_000, "entities": {"types": ["PERSON", "LOCATION", "ADDRESS", "ORGANIZATION"]}}
    config = write_config(directory, {"guard": guard}, context=1024, parallel=2, threads=2)
    with running_server(config, directory / "server.log") as url:
        yield url


def test_a_stream_keeps_flowing_while_a_long_hostile_text_is_scanned(server: str) -> None:
    story = {
        "model": "smollm2-135m",
        "messages": [{"role": "user", "content": "Tell a long story."}],
        "max_tokens": 900,
        "ignore_eos": True,
        "temperature": 0,
        "stream": True,
    }
    scanned = threading.Event()
    answer: list[httpx.Response] = []

    def scan() -> None:
        answer.append(httpx.post(f"{server}/v1/guard/scan", json={"text": hostile(1_000_000)}, timeout=300))
        scanned.set()

    chunks_during_scan = 0
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", f"{server}/v1/chat/completions", json=story) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.iter_lines()
        next(line for line in lines if line.startswith("data: "))  # the stream is running
        thread = threading.Thread(target=scan)
        thread.start()
        # Each chunk that arrives before the scan's answer came while the scan ran (a chunk or two may have
        # been on its way before the scan began). Scanned on the event loop, as it once was, none would.
        for line in lines:
            if scanned.is_set() or line == "data: [DONE]":
                break
            chunks_during_scan += line.startswith("data: ")
        thread.join(300)
    assert scanned.is_set(), "the scan did not complete"
    assert chunks_during_scan >= 5, f"the stream got {chunks_during_scan} chunks while the scan ran"
    response = answer[0]
    assert response.status_code == 200, response.text
    counts = response.json()["counts"]
    assert counts["ORGANIZATION"] > 0 and counts["ADDRESS"] > 0


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FakeUpstream]]:
    directory = tmp_path_factory.mktemp("guard-capped")
    with fake_upstream() as fake:
        settings = {
            "guard": {"max_chars": 200},
            "providers": [{"name": "hosted", "base_url": fake.url, "zone": "external"}],
            "routes": [{"name": "assistant", "targets": ["hosted/ok", LOCAL]}],
        }
        config = write_config(directory, settings, context=1024, parallel=2, threads=2)
        with running_server(config, Path(directory / "server.log")) as url:
            yield url, fake


def ask(url: str, content: str) -> httpx.Response:
    body = {"model": "assistant", "messages": [{"role": "user", "content": content}], "max_tokens": 4}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)


def test_a_request_beyond_the_guards_limit_stays_local(capped: tuple[str, FakeUpstream]) -> None:
    url, fake = capped
    assert ask(url, "Say hello.").headers["x-enclave-route"] == "hosted/ok"  # within the limit: it may leave
    before = fake.count("ok")
    text = "Say hello to the team. " * 10  # 230 characters: more than the guard reads here
    response = ask(url, text)
    assert response.status_code == 200, response.text
    assert response.headers["x-enclave-route"] == LOCAL
    assert response.headers["x-enclave-data-class"] == "restricted"
    assert response.headers["x-enclave-guard"] == "GUARD_ERROR=1"
    assert fake.count("ok") == before and text not in fake.texts()


def test_a_scan_beyond_the_guards_limit_is_413_naming_the_field(capped: tuple[str, FakeUpstream]) -> None:
    url, _ = capped
    response = httpx.post(f"{url}/v1/guard/scan", json={"text": "x" * 201}, timeout=60)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "guard_limit_exceeded" and error["param"] == "text"
    assert "guard.max_chars" in error["message"]
    messages = [{"role": "user", "content": "x" * 150}, {"role": "user", "content": "y" * 51}]
    response = httpx.post(f"{url}/v1/guard/scan", json={"messages": messages}, timeout=60)
    assert response.status_code == 413 and response.json()["error"]["param"] == "messages"
    assert httpx.post(f"{url}/v1/guard/scan", json={"text": "x" * 200}, timeout=60).status_code == 200


def test_a_long_text_is_read_by_a_worker_process_and_under_block_one_beyond_the_limit_is_refused() -> None:
    settings = Settings.model_validate(
        {
            "providers": [{"name": "hosted", "base_url": "http://127.0.0.1:9/v1", "zone": "external"}],
            "routes": [{"name": "assistant", "targets": ["hosted/model"]}],
            "guard": {"action": "block", "max_chars": 300, "inline_chars": 10},
        }
    )
    gateway = Gateway(Router(settings), Dispatcher({}, {}), Guard(settings.guard))

    async def inspect(text: str) -> GuardReport:
        request = GenerationRequest(messages=(ChatMessage("user", text),))
        return await gateway.inspect(InferenceCall("assistant", request, "chat"))

    async def run() -> None:
        try:
            assert (await inspect("Nothing to see in this one, long enough for a worker.")).counts == {}
            with pytest.raises(GuardBlocked):  # found by the worker, blocked here
                await inspect("Write to jane.roe@example.com about it, she is expecting it.")
            with pytest.raises(GuardLimitExceeded):
                await inspect("x" * 301)
        finally:
            await gateway.close()

    asyncio.run(run())
