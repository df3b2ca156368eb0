"""Starting a peer server for a benchmark: its own log in bench/.work, ready when it answers, stopped after."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

WORK = Path(__file__).resolve().parent / ".work"


@contextlib.contextmanager
def started(
    name: str, command: list[str], ready: Callable[[], bool], env: dict[str, str] | None = None
) -> Iterator[None]:
    """Run ``command`` until the block ends; enter the block once ``ready()`` is true (HTTP errors: not yet)."""
    WORK.mkdir(exist_ok=True)
    log = (WORK / f"{name}.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if ready():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready: see {log.name}")
            time.sleep(0.3)
        yield
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
