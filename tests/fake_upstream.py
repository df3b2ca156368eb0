"""A small OpenAI-compatible server standing in for a hosted API (which cannot be reached from here).

It records every request it receives, so tests can assert on exactly what left the perimeter. Its behaviour
is chosen by the model name a request asks for (up to a dot), so one instance serves every scenario without
cross-talk:

    ok          answers normally (streaming or not), with usage
    fail500     always 500
    busy429     always 429 with Retry-After: 0
    unauthorized  401, echoing the API key it was sent (as some providers do)
    hang        accepts the request and never answers
    early-close drops the connection before the first token
    midstream   streams two tokens, then drops the connection
    switch      fails with 500 while ``FakeUpstream.healthy`` is false, answers while true
    echo        answers with the last user message, streamed three characters a chunk
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.servers import free_port

REPLY = "Hello from the hosted model."


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeUpstream:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    healthy: bool = False

    def texts(self) -> str:
        """Everything the upstream was ever sent, as one string, for "never reached" assertions."""
        return json.dumps([r.body for r in self.received])

    def count(self, model: str) -> int:
        return sum(r.body.get("model") == model for r in self.received)


class _Drop(Exception):
    """Raised inside a response to make the server drop the connection."""


def _app(fake: FakeUpstream) -> Starlette:
    def completion(model: str, stream: bool, reply: str = REPLY) -> Response:
        if model == "echo":
            words = [reply[i:i + 3] for i in range(0, len(reply), 3)]
        else:
            words = [w + " " for w in reply.split(" ")]
            words[-1] = words[-1].strip()
        usage = {"prompt_tokens": 11, "completion_tokens": len(words), "total_tokens": 11 + len(words)}
        if not stream:
            return JSONResponse({
                "id": "fake-1", "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                             "finish_reason": "stop"}],
                "usage": usage,
            })

        async def events() -> AsyncIterator[str]:
            for i, word in enumerate(words):
                if model == "midstream" and i == 2:
                    raise _Drop
                chunk = {"id": "fake-1", "object": "chat.completion.chunk", "model": model,
                         "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
                await asyncio.sleep(0.01)
            final = {"id": "fake-1", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(final)}\n\n"
            yield f"data: {json.dumps({'id': 'fake-1', 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def chat(request: Request) -> Response:
        body = await request.json()
        fake.received.append(Received(request.url.path, dict(request.headers), body))
        # "busy429.retry" behaves as "busy429": a suffix gives a scenario its own circuit breaker.
        model = body.get("model", "").split(".")[0]
        if model == "fail500" or (model == "switch" and not fake.healthy):
            return JSONResponse({"error": {"message": "upstream exploded", "type": "server_error"}}, 500)
        if model == "busy429":
            return JSONResponse({"error": {"message": "slow down", "type": "rate_limit_error"}}, 429,
                                headers={"Retry-After": "0"})
        if model == "unauthorized":
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            return JSONResponse({"error": {"message": f"Incorrect API key provided: {key}",
                                           "type": "invalid_request_error", "code": "invalid_api_key"}}, 401)
        if model == "hang":
            await asyncio.sleep(3600)
        if model == "early-close":
            async def nothing() -> AsyncIterator[str]:
                raise _Drop
                yield ""

            return StreamingResponse(nothing(), media_type="text/event-stream")
        if model == "echo":
            last = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
            return completion(model, bool(body.get("stream")), last)
        return completion(model, bool(body.get("stream")))

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "ok", "object": "model"}]})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/v1/models", models)])


@contextmanager
def fake_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_app(fake), host="127.0.0.1", port=port, log_level="critical",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake upstream did not start")
        time.sleep(0.05)
    fake.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(5)
