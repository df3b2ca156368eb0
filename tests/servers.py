"""Start real enclave servers as a user would (the CLI, in a subprocess) on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

ENCLAVE = [sys.executable, "-m", "enclave.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(directory: Path, settings: dict[str, object] | None = None, **model: object) -> Path:
    """An enclave.yaml serving the default model with the given per-model settings (and top-level ones)."""
    path = directory / "enclave.yaml"
    config = {
        "models": [{"name": "smollm2-135m", "aliases": ["default"], **model}],
        "data_dir": str(directory),
        **(settings or {}),
    }
    path.write_text(yaml.safe_dump(config))
    return path


def enclave(
    *args: str,
    config: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the enclave CLI as a user would; the result's stdout and stderr are text."""
    command = [*ENCLAVE, *args, *(["--config", str(config)] if config is not None else [])]
    # A wide terminal, so tables print whole values rather than truncating them to 80 columns.
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@contextmanager
def running_server(
    config: Path, log: Path, env: dict[str, str] | None = None, process_out: list[subprocess.Popen[bytes]] | None = None
) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log.open("w") as out:
        process = subprocess.Popen(
            [*ENCLAVE, "serve", "--config", str(config), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    if process_out is not None:
        process_out.append(process)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
