"""Start, stop, recover, as an operator meets them: start-up failures are one line and exit 1, the start-up log
says what is served, SIGTERM drains streams in flight (new requests get 503 shutting_down) and writes every row,
and a database dropped and created again under a running server is migrated again."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import Engine, create_engine, func, inspect, select, text

from enclave.store.db import open_engine
from enclave.store.schema import audit_log, usage
from tests.servers import enclave, running_server, write_config
from tests.stores import PG_ADMIN_URL, postgres_database

STREAM = {
    "model": "smollm2-135m",
    "messages": [{"role": "user", "content": "Tell me a long story."}],
    "stream": True,
    "ignore_eos": True,
    "temperature": 0,
}


def _one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("enclave: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"models": [{"name": "m", "path": "missing.gguf"}]}, "file not found"),
        ({"models": [{"name": "m", "path": "enclave.yaml"}]}, "is not a GGUF file"),
        ({"models": [{"name": "m", "path": "x.gguf", "contxt": 512}]}, "models[0].contxt: unknown key"),
        ({"audit": {"public_keys": ["ed25519:" + "A" * 43 + "="]}}, "no audit signing key"),
        ({"store": {"url_env": "ENCLAVE_TEST_UNSET_URL"}}, "ENCLAVE_TEST_UNSET_URL is not set"),
    ],
)
def test_start_up_failure_is_one_line_and_exit_1(tmp_path: Path, setting: dict[str, object], named: str) -> None:
    config = tmp_path / "enclave.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path), **setting}))
    line = _one_line_failure(
        enclave("serve", "--port", "0", config=config, env={"XDG_CONFIG_HOME": str(tmp_path / "config")})
    )
    assert named in line


def test_broken_yaml_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = tmp_path / "enclave.yaml"
    config.write_text("models: [name: {")
    assert "not valid YAML" in _one_line_failure(enclave("serve", config=config))


def test_port_taken_is_one_line_before_any_model_loads_and_no_start_is_audited(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = enclave("serve", "--port", str(port), config=config)
    line = _one_line_failure(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "in use" in line
    # Checked before the store was opened: a server that never served wrote nothing, a server.start least of all.
    assert not (tmp_path / "enclave.db").exists()


def test_unreachable_store_is_one_line_after_the_port_is_bound(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"store": {"url": "postgresql+psycopg://postgres@127.0.0.1:9/none"}})
    result = enclave("serve", "--port", "0", config=config, env={"PGCONNECT_TIMEOUT": "2"})
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(errors) == 1 and errors[0].startswith("enclave: error: cannot open the store"), result.stderr


def test_start_up_log_says_what_is_served_and_in_process_chat_audits_no_start(tmp_path: Path) -> None:
    config = write_config(tmp_path, context=512, threads=2)
    chat = enclave("chat", "--max-tokens", "4", config=config, stdin="Hi\n/exit\n")
    assert chat.returncode == 0, chat.stderr
    with running_server(config, tmp_path / "server.log"):
        pass
    log = tmp_path.joinpath("server.log").read_text()
    started = next(line for line in log.splitlines() if "enclave serving" in line)
    assert "models smollm2-135m" in started and f"data folder {tmp_path}" in started
    assert "no API keys required" in started
    engine = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    with engine.connect() as connection:
        actions = list(connection.execute(select(audit_log.c.action).order_by(audit_log.c.seq)).scalars())
    engine.dispose()
    assert actions == ["inference", "server.start", "server.stop"], actions  # the chat's turn, then the server


def _stream_until_first_token(base: str, body: dict[str, object], out: list[list[str]]) -> threading.Thread:
    """A client reading a stream in a thread; ``out`` gets its lines, the first content once it arrived."""
    lines: list[str] = []
    out.append(lines)
    first = threading.Event()

    def read() -> None:
        with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=120) as response:
            for line in response.iter_lines():
                if line:
                    lines.append(line)
                if '"content":"' in line and '"content":""' not in line:
                    first.set()
        first.set()

    thread = threading.Thread(target=read)
    thread.start()
    assert first.wait(120), "no first token"
    return thread


Start = Callable[..., tuple[str, "subprocess.Popen[bytes]", Path]]


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Start]:
    """Starts a server with the given ``server:`` settings; gives its URL, its process and its data folder."""
    with ExitStack() as stack:

        def start(**server: object) -> tuple[str, subprocess.Popen[bytes], Path]:
            config = write_config(
                tmp_path, {"server": server, "ledger": {"flush_seconds": 60}}, context=2048, parallel=4, threads=2
            )
            processes: list[subprocess.Popen[bytes]] = []
            base = stack.enter_context(running_server(config, tmp_path / "server.log", process_out=processes))
            return base, processes[0], tmp_path

        yield start


def _rows(tmp_path: Path) -> list[tuple[str, int]]:
    engine = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    with engine.connect() as connection:
        rows = [(r.status, r.completion_tokens) for r in connection.execute(select(usage).order_by(usage.c.id))]
    engine.dispose()
    return rows


def test_sigterm_lets_streams_in_flight_finish_and_refuses_new_requests(serving: Start) -> None:
    base, process, tmp_path = serving(drain_seconds=600)  # no deadline in sight, even on a busy machine
    streams: list[list[str]] = []
    readers = [_stream_until_first_token(base, {**STREAM, "max_tokens": 200}, streams) for _ in range(3)]
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while True:  # the drain begins within a tick of the signal
        refused = httpx.post(
            f"{base}/v1/chat/completions", json={**STREAM, "stream": False, "max_tokens": 1}, timeout=60
        )
        if refused.status_code == 503 or time.monotonic() > deadline:
            break
    assert refused.status_code == 503 and refused.headers["connection"] == "close"
    assert refused.json()["error"]["code"] == "shutting_down" and refused.json()["error"]["type"] == "server_error"
    assert httpx.get(f"{base}/health", timeout=10).status_code == 503
    for reader in readers:
        reader.join(600)
    assert process.wait(60) == 0
    for lines in streams:  # every stream ran to its end: its finish reason, then [DONE]
        assert lines[-1] == "data: [DONE]" and '"finish_reason":"length"' in lines[-2], lines[-3:]
    rows = _rows(tmp_path)  # written at shutdown (the flush interval is longer than the test)
    assert [r for r in rows if r == ("ok", 200)] == [("ok", 200)] * 3, rows


def test_drain_deadline_ends_what_is_left_with_an_error_the_client_sees(serving: Start) -> None:
    base, process, tmp_path = serving(drain_seconds=1)
    streams: list[list[str]] = []
    reader = _stream_until_first_token(base, {**STREAM, "max_tokens": 1900}, streams)
    whole: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: whole.append(
            httpx.post(f"{base}/v1/chat/completions", json={**STREAM, "stream": False, "max_tokens": 1900}, timeout=120)
        )
    )
    waiting.start()
    deadline = time.monotonic() + 60
    while httpx.get(f"{base}/health", timeout=10).json()["models"]["smollm2-135m"]["active_sequences"] < 2:
        assert time.monotonic() < deadline, "the second request never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    reader.join(120)
    waiting.join(120)
    assert process.wait(60) == 0
    last = json.loads(streams[0][-1].removeprefix("data: "))
    assert last["error"]["code"] == "shutting_down" and "data: [DONE]" not in streams[0]
    assert whole[0].status_code == 503 and whole[0].json()["error"]["code"] == "shutting_down"
    assert [status for status, _ in _rows(tmp_path)] == ["shutting_down", "shutting_down"]


def _written(store: Engine) -> int:
    if not inspect(store).has_table("usage"):
        return 0
    with store.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(usage)).scalar() or 0)


def test_database_dropped_and_created_again_is_migrated_and_written_to(tmp_path: Path) -> None:
    with postgres_database() as url:
        config = write_config(
            tmp_path, {"store": {"url": url}, "ledger": {"flush_seconds": 0.2}}, context=512, threads=2
        )
        body = {**STREAM, "stream": False, "max_tokens": 2}
        with running_server(config, tmp_path / "server.log") as base:
            assert httpx.post(f"{base}/v1/chat/completions", json=body, timeout=60).status_code == 200
            name = url.rsplit("/", 1)[1]
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            assert httpx.post(f"{base}/v1/chat/completions", json=body, timeout=60).status_code == 200
            store = create_engine(url)
            deadline = time.monotonic() + 30
            while not _written(store):  # the writer finds the tables gone, migrates, writes what waited
                assert time.monotonic() < deadline, tmp_path.joinpath("server.log").read_text()
                time.sleep(0.1)
            store.dispose()
        assert "migrated again" in tmp_path.joinpath("server.log").read_text()
