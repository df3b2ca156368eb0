"""Server-sent events and client-disconnect handling shared by the completion endpoints."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTask

from enclave.api.errors import sse_error
from enclave.engines.base import Delta
from enclave.errors import EnclaveError, InvalidRequest
from enclave.gateway import Answer

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DONE = "data: [DONE]\n\n"


async def parse_body(request: Request, model: type[M]) -> M:
    """Validate the JSON body whatever its Content-Type says (curl users often send none).

    Invalid JSON or fields raise pydantic's ValidationError, which the error handlers turn into a 400.
    pydantic's JSON parser stops at 200 levels of nesting; a deeper body (a JSON Schema of nested objects
    reaches that soon) is parsed by Python's, so that the field at fault is named rather than the body
    called invalid JSON. Past Python's own limit (about 1,000 levels) it is refused as too deep.
    """
    body = await request.body()
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" and "recursion" in str(e.get("ctx")) for e in exc.errors()):
            raise
        try:
            data = json.loads(body)
        except RecursionError:
            raise InvalidRequest("The request body nests JSON deeper than this server parses.") from None
        except ValueError:
            raise exc from None
    return model.model_validate(data)


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
        guarded(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **answer.headers},
        background=BackgroundTask(answer.close),
    )


def response_head(id_prefix: str, object_: str, model: str) -> dict[str, Any]:
    """The fields every completion response and chunk share."""
    return {
        "id": f"{id_prefix}-{uuid.uuid4().hex}",
        "object": object_,
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
    }


@dataclass(slots=True)
class CollectedCall:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CollectedChoice:
    """One choice of a non-streamed answer, assembled from its deltas."""

    index: int
    text: list[str] = field(default_factory=list)
    calls: dict[int, CollectedCall] = field(default_factory=dict)
    logprobs: list[dict[str, Any]] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    finish_reason: str | None = None

    def add(self, delta: Delta) -> None:
        self.text.append(delta.text)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        for piece in delta.tool_calls:
            call = self.calls.get(piece.index)
            if call is None:
                call = self.calls[piece.index] = CollectedCall(piece.id or call_id(), piece.name or "")
            call.arguments.append(piece.arguments)
        if delta.logprobs:
            self.logprobs.extend(delta.logprobs)
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason

    def tool_calls(self) -> list[dict[str, Any]]:
        return [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": "".join(c.arguments)}}
            for _, c in sorted(self.calls.items())
        ]


def call_id() -> str:
    """An id for a tool call whose engine named none (OpenAI's form)."""
    return f"call_{uuid.uuid4().hex[:24]}"


async def collect(request: Request, answer: Answer) -> list[CollectedChoice]:
    """A whole non-streamed answer, choice by choice; generation stops if the client hangs up first."""

    async def read() -> list[CollectedChoice]:
        # By the index each delta names: an upstream's answer is taken as it numbers its choices.
        choices = {i: CollectedChoice(i) for i in range(answer.choices)}
        async for delta in answer:
            choice = choices.get(delta.choice)
            if choice is None:
                choice = choices[delta.choice] = CollectedChoice(delta.choice)
            choice.add(delta)
        return [choices[i] for i in sorted(choices)]

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
