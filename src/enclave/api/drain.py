"""Draining at shutdown: requests in flight finish, new ones are refused with 503 ``shutting_down``.

``DrainGate`` is pure ASGI middleware that counts the HTTP requests in flight (a stream until its last byte)
and, once ``Drain.begin`` was called, answers every new request (``/health`` included, so a load balancer takes
the server out of rotation) with OpenAI's error shape, ``Retry-After`` and ``Connection: close``. The server
keeps listening while it drains: a client gets that answer rather than a refused connection.
"""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from enclave.api.errors import enclave_error_body
from enclave.errors import ShuttingDown


class Drain:
    """Whether the server drains, and the requests still in flight."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        self.draining = True

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    async def idle(self) -> None:
        """Until no request is in flight (bound it with ``asyncio.timeout``)."""
        await self._idle.wait()


class DrainGate:
    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.drain.draining:
            error = ShuttingDown(
                "The server is shutting down and takes no new requests; retry on another replica or once it is back."
            )
            refusal = JSONResponse(
                enclave_error_body(error), status_code=error.status, headers={"Retry-After": "1", "Connection": "close"}
            )
            await refusal(scope, receive, send)
            return
        self.drain.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.leave()
