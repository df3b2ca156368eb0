"""Server-sent events and client-disconnect handling shared by the completion endpoints."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from enclave.api.errors import sse_error
from enclave.errors import EnclaveError
from enclave.gateway import Answer

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DONE = "data: [DONE]\n\n"


async def parse_body(request: Request, model: type[M]) -> M:
    """Validate the JSON body whatever its Content-Type says (curl users often send none).

    Invalid JSON or fields raise pydantic's ValidationError, which the error handlers turn into a 400.
    """
    return model.model_validate_json(await request.body())


def event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def sse_response(events: AsyncIterator[str], answer: Answer) -> StreamingResponse:
    async def guarded() -> AsyncIterator[str]:
        try:
            async for item in events:
                yield item
        except EnclaveError as exc:
            # Mid-stream failure: an error event and no [DONE], so it never looks like a complete answer.
            yield sse_error(exc)
        finally:
            answer.close()

    # Starlette cancels this generator when the client disconnects, possibly before it ever started: the
    # background task still runs, so the engine's slot is freed and the request accounted either way.
    return StreamingResponse(
        guarded(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **answer.headers},
        background=BackgroundTask(answer.close),
    )


def response_head(id_prefix: str, object_: str, model: str) -> dict[str, Any]:
    """The fields every completion response and chunk share."""
    return {"id": f"{id_prefix}-{uuid.uuid4().hex}", "object": object_, "created": int(time.time()), "model": model,
            "system_fingerprint": None}


async def collect(request: Request, answer: Answer) -> tuple[str, str | None]:
    """A whole non-streamed answer and its finish reason; generation stops if the client hangs up first."""

    async def read() -> tuple[str, str | None]:
        parts, finish = [], None
        async for delta in answer:
            parts.append(delta.text)
            finish = delta.finish_reason
        return "".join(parts), finish

    return await unless_disconnected(request, read)


async def unless_disconnected(request: Request, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work``; if the client hangs up first, cancel it so the engine stops generating for nobody."""
    task = asyncio.ensure_future(work())

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                task.cancel()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        return await task
    finally:
        watcher.cancel()
