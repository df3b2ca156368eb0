"""Size limits against a real server: a huge body or header is refused before it is read (the server's memory
stays put and it goes on serving), a prompt longer than any context is refused before it is tokenized, and
made-up model names are one metric label and one ledger value, not one each."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from enclave.config import BODY_FLOOR, Settings
from tests.servers import running_server, write_config

CHAT = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 2}
MIB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A server with the default limits, and its process id (to read its memory)."""
    directory = tmp_path_factory.mktemp("limits")
    config = write_config(directory, {"ledger": {"flush_seconds": 0.1}}, context=512, parallel=2, threads=2)
    processes: list[subprocess.Popen[bytes]] = []
    with running_server(config, directory / "server.log", process_out=processes) as base:
        yield base, processes[0].pid


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _serves(base: str) -> None:
    response = httpx.post(f"{base}/v1/chat/completions", json=CHAT, timeout=60)
    assert response.status_code == 200, response.text


def _too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "request_too_large"
    assert str(BODY_FLOOR) in error["message"]


def test_the_default_body_limit_follows_the_largest_context() -> None:
    assert Settings().body_limit == BODY_FLOOR  # 4096 tokens: the floor
    big = Settings.model_validate({"models": [{"name": "smollm2-135m", "context": 131072}]})
    assert big.body_limit == 64 * 131072
    assert Settings.model_validate({"server": {"max_body_bytes": 4096}}).body_limit == 4096


def test_a_64_mib_body_is_refused_unread_and_the_server_goes_on(server: tuple[str, int]) -> None:
    base, pid = server
    _serves(base)
    before = _rss(pid)
    for _ in range(3):
        declared = httpx.post(
            f"{base}/v1/chat/completions",
            content=b"x" * (64 * MIB),
            timeout=60,
            headers={"content-type": "application/json"},
        )
        _too_large(declared)

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"model": "smollm2-135m", "messages": [{"role": "user", "content": "'
            for _ in range(1024):
                yield b"a" * 65536

        _too_large(httpx.post(f"{base}/v1/chat/completions", content=chunks(), timeout=60))
    assert _rss(pid) - before < 32 * MIB, "the body was held in memory"
    _serves(base)


def test_a_body_just_under_the_limit_is_read(server: tuple[str, int]) -> None:
    base, _ = server
    # Valid JSON padded with spaces to just under the limit: read, parsed and answered.
    body = b'{"model": "smollm2-135m", "prompt": "hi"' + b" " * (BODY_FLOOR - 64) + b"}"
    response = httpx.post(f"{base}/v1/completions", content=body, timeout=60)
    assert response.status_code == 200, response.text


def test_headers_past_the_limit_are_431_and_never_gathered(server: tuple[str, int]) -> None:
    base, pid = server
    refused = httpx.get(f"{base}/health", headers={"x-filler": "a" * 40_000}, timeout=30)
    assert refused.status_code == 431
    assert refused.json()["error"]["code"] == "request_header_fields_too_large"
    # One header of 64 MiB, sent as fast as the socket takes it: the server stops reading at the limit.
    before = _rss(pid)
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=30) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nx-big: ")
        answer = b""
        try:
            for _ in range(1024):
                raw.sendall(b"a" * 65536)
        except OSError:
            pass  # the server closed the connection: what it sent before is still to be read
        try:
            while chunk := raw.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert _rss(pid) - before < 32 * MIB
    _serves(base)


def test_a_prompt_longer_than_the_context_is_refused_before_it_is_tokenized(server: tuple[str, int]) -> None:
    base, _ = server
    body = {**CHAT, "messages": [{"role": "user", "content": "lorem ipsum " * 80_000}]}
    response = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
    assert "at least" in error["message"] and "512" in error["message"]  # judged by its length alone
    _serves(base)


def test_made_up_model_names_are_one_label_and_one_ledger_value(server: tuple[str, int]) -> None:
    base, _ = server
    names = [f"made-up-{uuid.uuid4().hex}" for _ in range(200)]
    for name in names:
        assert httpx.post(f"{base}/v1/chat/completions", json={**CHAT, "model": name}, timeout=30).status_code == 404
    metrics = httpx.get(f"{base}/metrics").text
    assert "made-up-" not in metrics
    labels = ('model="(unknown)"', 'endpoint="chat"', 'status="model_not_found"')
    counted = [
        float(row.split()[-1])
        for row in metrics.splitlines()
        if row.startswith("enclave_requests_total{") and all(label in row for label in labels)
    ]
    assert counted and counted[0] >= 200, metrics
    deadline = time.monotonic() + 30
    while True:
        rows = httpx.get(f"{base}/admin/usage", params={"by": "model"}).json()["data"]
        unknown = [r for r in rows if r["model"] == "(unknown)"]
        if unknown and unknown[0]["requests"] >= 200:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)
    assert not any(r["model"].startswith("made-up-") for r in rows)


def test_headers_past_the_limit_are_431_when_they_arrive_in_pieces(server: tuple[str, int]) -> None:
    """A head that arrives over several reads is counted as a whole (each piece alone is under the limit)."""
    address = urlsplit(server[0])
    with socket.create_connection((address.hostname, address.port), timeout=30) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nx-filler: " + b"a" * 20_000)
        time.sleep(0.2)  # not synchronisation: gives the server a chance to read the first piece on its own
        raw.sendall(b"a" * 20_000 + b"\r\n\r\n")
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
