"""Long scans in worker processes: the texts of a request that takes long to read go to a process of the guard's
own (``enclave.guard.worker``), so the server's event loop, its engine threads and every stream in flight go on
while the guard reads. Threads would not do: they take turns with all of those on the interpreter's lock, and one
regular expression over a long text holds the lock from start to end.

At most ``guard.workers`` processes, started on the first long scan (each loads the guard's word lists: about a
second and 120 MB); more long scans than that wait their turn without holding anything up. A worker that dies,
or whose caller gives up (the client went away), is killed, and a fresh one starts on the next scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from asyncio.subprocess import PIPE, Process
from typing import Any

from enclave.config import GuardConfig
from enclave.errors import GuardFailed
from enclave.guard.findings import Finding
from enclave.guard.worker import frame


class ScanPool:
    """At most ``guard.workers`` worker processes, started as long scans need them, each reading one scan at a
    time."""

    def __init__(self, config: GuardConfig) -> None:
        self._config = config
        self._processes: set[Process] = set()  # every worker running
        self._idle: list[Process] = []
        # Created in the event loop that uses it (and made again should another loop take over, as in tests).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turns = asyncio.Semaphore(config.workers)

    async def scan(self, texts: list[str]) -> list[Finding]:
        """The findings in the texts, read by a worker; GuardFailed if the worker could not read them."""
        self._bind(asyncio.get_running_loop())
        async with self._turns:
            process = self._idle.pop() if self._idle else None
            if process is not None and process.returncode is not None:  # ended while idle: start a fresh one
                self._kill(process)
                process = None
            try:
                process = process or await self._start()
                answer = await self._ask(process, {"texts": texts})
            except (OSError, asyncio.IncompleteReadError) as exc:
                if process is not None:
                    self._kill(process)
                raise GuardFailed("The privacy guard's worker process could not scan this request.") from exc
            except BaseException:
                if process is not None:
                    self._kill(process)  # its caller gave up mid-scan: stop the work rather than wait for it
                raise
            self._idle.append(process)
        if "error" in answer:
            raise GuardFailed(f"The privacy guard failed on this request ({answer['error']}).")
        return [Finding(kind, start, end, index) for kind, start, end, index in answer["findings"]]

    async def close(self) -> None:
        """Stop every worker, and wait for them to end (their pipes close with them)."""
        processes = list(self._processes)
        for process in processes:
            self._kill(process)
        await asyncio.gather(*(process.wait() for process in processes))

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not loop:
            for process in list(self._processes):  # pipes of another loop: of no use in this one
                self._kill(process)
            self._loop, self._turns = loop, asyncio.Semaphore(self._config.workers)

    async def _start(self) -> Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "enclave.guard.worker", stdin=PIPE, stdout=PIPE
        )
        self._processes.add(process)
        assert process.stdin is not None
        process.stdin.write(frame(self._config.model_dump(mode="json")))
        return process

    @staticmethod
    async def _ask(process: Process, request: dict[str, Any]) -> Any:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(frame(request))
        await process.stdin.drain()
        length = int.from_bytes(await process.stdout.readexactly(4), "big")
        return json.loads(await process.stdout.readexactly(length))

    def _kill(self, process: Process) -> None:
        self._processes.discard(process)
        if process in self._idle:
            self._idle.remove(process)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, RuntimeError):  # already gone, or its event loop closed
                process.kill()
