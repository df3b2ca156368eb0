"""Size limits on what a client sends, enforced before it is held in memory.

``BodyLimit`` is pure ASGI middleware: a declared ``Content-Length`` over the limit is refused before a byte of
the body is read, and a body without one (chunked) is counted as it arrives and refused the moment it passes
the limit, so at most one network read past the limit is ever in memory. ``bounded_headers`` gives uvicorn an
HTTP protocol that does the same for the request line and headers, which httptools would otherwise gather
without any bound (one header value of any length, before the application sees anything).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from enclave.api.errors import enclave_error_body
from enclave.errors import EnclaveError, HeadersTooLarge, RequestTooLarge


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(send: Send, error: EnclaveError) -> None:
    body = json.dumps(enclave_error_body(error)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.limit:
            # Refused before reading: the body is never asked for (nor a 100 Continue sent for it).
            await _refuse(send, RequestTooLarge(self.limit))
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise RequestTooLarge(self.limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except RequestTooLarge as exc:
            # Raised where no error handler turned it into a response (a body read outside a route).
            if started:
                raise
            await _refuse(send, exc)


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing (431) a request line and headers longer than ``max_header_bytes``.

    Bytes are counted as they arrive, from a request's first byte until its headers are complete, and the
    parser is never fed past the limit: httptools would buffer a header of any length before calling back.
    """

    max_header_bytes = 32 * 1024

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Reset when a message completes, never when one begins: the parser begins a message while a read
        # is fed to it, and a reset there would forget the bytes of the head counted so far (a head arriving
        # in several reads, as on a busy machine, would then pass the limit unnoticed).
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # whatever comes next on this connection is the next request's head
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if not self._in_head or self._head_bytes + len(data) <= self.max_header_bytes:
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            return
        # Feed only what the limit allows; if the headers are still not complete after it, refuse.
        allowed = self.max_header_bytes - self._head_bytes
        self._head_bytes = self.max_header_bytes
        super().data_received(data[:allowed])
        if self.transport.is_closing():
            return
        if self._in_head:
            self._refuse_head()
            return
        super().data_received(data[allowed:])

    def _refuse_head(self) -> None:
        error = HeadersTooLarge(self.max_header_bytes)
        body = json.dumps(enclave_error_body(error)).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            + b"content-length: "
            + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + body
        )
        self.transport.close()


def bounded_headers(limit: int) -> type[HttpToolsProtocol]:
    """The protocol class to give uvicorn (``http=``) for a header limit of ``limit`` bytes."""
    return type("BoundedHttpTools", (BoundedHttpTools,), {"max_header_bytes": limit})
