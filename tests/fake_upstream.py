"""A small OpenAI-compatible server standing in for a hosted API (which cannot be reached from here).

It records every request it receives, so tests can assert on exactly what left the perimeter. Its behaviour
is chosen by the model name a request asks for (up to a dot: "busy429.retry" behaves as "busy429", the suffix
gives a scenario its own circuit breaker), so one instance serves every scenario without cross-talk:

    ok          answers normally (streaming or not) with usage; honours n (choice i > 0 ends with "length"),
                logprobs (one entry per chunk) and a JSON response_format (answers JSON_REPLY)
    tools       calls the two TOOL_CALLS: whole, or streamed as OpenAI does (id and name first, arguments in
                fragments of 4 characters), finish_reason "tool_calls"
    echo        answers with the last user message, streamed three characters a chunk
    leak        answers with the last user message and LEAK (personal data the request did not carry)
    refusal     refuses in OpenAI's ``refusal`` field (REFUSAL), whole or streamed in two pieces
    echo-tools  calls "echo" with the last user message as its arguments' "text", streamed as "tools" does
    other       answers OTHER_REPLY (a rescuer whose text diverges)
    continue    continues a trailing assistant message (prefill): the rest of REPLY after it
    fail500     always 500
    busy429     always 429 with Retry-After: 0
    unauthorized  401, echoing the API key it was sent (as some providers do)
    refuse      400 with code content_policy_violation
    hang        accepts the request and never answers
    early-close drops the connection before the first token
    midstream   streams two words, then drops the connection
    stall       streams two words, then sends nothing more while the connection stays open
    refuse-midstream  streams two words, then an error event with code content_policy_violation
    no-done     streams the whole answer with its finish reason and usage, then closes without [DONE]
    malformed   streams the answer with one event that is not JSON after the first word
    slow-start  waits ``delay`` seconds before its headers and ``delay`` more before its first token
    pause       streams two words, waits ``delay`` seconds, then streams the rest
    trickle     (not streamed) sends a space every 0.1 s for a minute before its answer
    switch      fails with 500 while ``FakeUpstream.healthy`` is false, answers while true

At /v1/embeddings every model but fail500 and busy429 answers with ``fake_embedding`` of each input (EMBEDDING_DIMS
floats, or ``dimensions`` of them), in input order, and a usage of EMBEDDING_TOKENS_PER_INPUT tokens per input.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
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

REFUSAL = "I can't help with that request."
REPLY = "Hello from the hosted model."
OTHER_REPLY = "Greetings from another model."
LEAK = " Also write to Anna Kowalska at anna.kowalska@firma.pl."
JSON_REPLY = '{"city": "Paris", "temperature": 21}'
TOOL_CALLS = [("call_1", "get_weather", '{"city": "Paris"}'), ("call_2", "get_time", '{"zone": "CET"}')]
USAGE = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
EMBEDDING_DIMS = 8
EMBEDDING_TOKENS_PER_INPUT = 3


def fake_embedding(item: str | list[int], dimensions: int = EMBEDDING_DIMS) -> list[float]:
    """A unit vector that depends only on the input: the same input gets the same vector from every call."""
    digest = hashlib.sha256(json.dumps(item).encode()).digest()
    values = [byte - 127.5 for byte in digest[:dimensions]]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


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
    delay: float = 1.0  # seconds, for slow-start and pause

    def texts(self) -> str:
        """Everything the upstream was ever sent, as one string, for "never reached" assertions."""
        return json.dumps([r.body for r in self.received])

    def count(self, model: str) -> int:
        return sum(r.body.get("model") == model for r in self.received)

    def last(self, model: str) -> dict[str, Any]:
        """The body of the last request for ``model``."""
        return next(r.body for r in reversed(self.received) if r.body.get("model") == model)


class _Drop(Exception):
    """Raised inside a response to make the server drop the connection."""


def _sse(payload: object) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _logprobs(words: list[str], chat: bool) -> dict[str, Any]:
    """Logprobs of ``words`` as chat completions send them, or in the legacy text completions form."""
    if chat:
        entries = [{"token": w, "logprob": -0.25, "bytes": list(w.encode())} for w in words]
        return {"content": [{**e, "top_logprobs": [e]} for e in entries]}
    return {"tokens": words, "token_logprobs": [-0.25] * len(words), "top_logprobs": [{w: -0.25} for w in words]}


def _words(reply: str, model: str) -> list[str]:
    if model == "echo":
        return [reply[i : i + 3] for i in range(0, len(reply), 3)]
    words = [w + " " for w in reply.split(" ")]
    words[-1] = words[-1].strip()
    return words


def _reply(model: str, body: dict[str, Any]) -> str:
    if model in ("echo", "leak"):
        said = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        return said + LEAK if model == "leak" else said
    if model == "other":
        return OTHER_REPLY
    if model == "continue":
        last = body["messages"][-1]
        prefix = last["content"] if last["role"] == "assistant" else ""
        return REPLY.removeprefix(prefix) if REPLY.startswith(prefix) else OTHER_REPLY
    if (body.get("response_format") or {}).get("type", "text") != "text":
        return JSON_REPLY
    return REPLY


def _text_answer(fake: FakeUpstream, model: str, body: dict[str, Any], chat: bool) -> Response:
    reply = _reply(model, body) if chat else REPLY
    n = int(body.get("n") or 1)
    finishes = ["stop"] + ["length"] * (n - 1)
    texts = [reply if i == 0 else f"{reply} ({i})" for i in range(n)]
    logprobs = bool(body.get("logprobs"))
    kind = "chat.completion" if chat else "text_completion"
    head = {"id": "fake-1", "created": int(time.time()), "model": body.get("model")}
    if not body.get("stream"):

        def choice(i: int) -> dict[str, Any]:
            out: dict[str, Any] = {"index": i, "finish_reason": finishes[i], "logprobs": None}
            if logprobs:
                out["logprobs"] = _logprobs(_words(texts[i], model), chat)
            if chat:
                out["message"] = {"role": "assistant", "content": texts[i]}
            else:
                out["text"] = texts[i]
            return out

        return JSONResponse({**head, "object": kind, "choices": [choice(i) for i in range(n)], "usage": USAGE})

    def chunk(i: int, word: str | None, finish: str | None = None) -> str:
        piece: dict[str, Any] = {"index": i, "finish_reason": finish, "logprobs": None}
        if word is not None and logprobs:
            piece["logprobs"] = _logprobs([word], chat)
        if chat:
            piece["delta"] = {"content": word} if word is not None else {}
        else:
            piece["text"] = word or ""
        return _sse({**head, "object": f"{kind}.chunk", "choices": [piece]})

    async def events() -> AsyncIterator[str]:
        if model == "slow-start":
            await asyncio.sleep(fake.delay)
        words = [_words(t, model) for t in texts]
        for position in range(max(len(w) for w in words)):
            if position == 2 and model == "midstream":
                raise _Drop
            if position == 2 and model == "stall":
                await asyncio.sleep(3600)
            if position == 2 and model == "refuse-midstream":
                yield _sse(
                    {
                        "error": {
                            "message": "The answer was stopped by the content filter.",
                            "type": "invalid_request_error",
                            "code": "content_policy_violation",
                        }
                    }
                )
                return
            if position == 2 and model == "pause":
                await asyncio.sleep(fake.delay)
            if position == 1 and model == "malformed":
                yield "data: {this is not json\n\n"
            for i, choice_words in enumerate(words):
                if position < len(choice_words):
                    yield chunk(i, choice_words[position])
            await asyncio.sleep(0.01)
        for i in range(n):
            yield chunk(i, None, finishes[i])
        yield _sse({**head, "choices": [], "usage": USAGE})
        if model != "no-done":
            yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _refusal(body: dict[str, Any]) -> Response:
    head = {"id": "fake-3", "created": int(time.time()), "model": body.get("model")}
    if not body.get("stream"):
        message = {"role": "assistant", "content": None, "refusal": REFUSAL}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return JSONResponse({**head, "object": "chat.completion", "choices": [choice], "usage": USAGE})

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _sse({**head, "object": "chat.completion.chunk", "choices": [choice]})

    half = len(REFUSAL) // 2
    events = [
        chunk({"role": "assistant", "refusal": REFUSAL[:half]}),
        chunk({"refusal": REFUSAL[half:]}),
        chunk({}, "stop"),
        _sse({**head, "choices": [], "usage": USAGE}),
        "data: [DONE]\n\n",
    ]
    return StreamingResponse(iter(events), media_type="text/event-stream")


def _tool_answer(body: dict[str, Any], tool_calls: list[tuple[str, str, str]] = TOOL_CALLS) -> Response:
    head = {"id": "fake-2", "created": int(time.time()), "model": body.get("model")}
    calls = [
        {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}
        for id_, name, arguments in tool_calls
    ]
    if not body.get("stream"):
        message = {"role": "assistant", "content": None, "tool_calls": calls}
        return JSONResponse(
            {
                **head,
                "object": "chat.completion",
                "usage": USAGE,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            }
        )

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return _sse(
            {
                **head,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    async def events() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": None})
        for index, (id_, name, arguments) in enumerate(tool_calls):
            yield chunk(
                {
                    "tool_calls": [
                        {"index": index, "id": id_, "type": "function", "function": {"name": name, "arguments": ""}}
                    ]
                }
            )
            for start in range(0, len(arguments), 4):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[start : start + 4]}}]})
        yield chunk({}, "tool_calls")
        yield _sse({**head, "choices": [], "usage": USAGE})
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _app(fake: FakeUpstream) -> Starlette:
    async def answer(request: Request) -> Response:
        body = await request.json()
        fake.received.append(Received(request.url.path, dict(request.headers), body))
        model = body.get("model", "").split(".")[0]
        if model == "fail500" or (model == "switch" and not fake.healthy):
            return JSONResponse({"error": {"message": "upstream exploded", "type": "server_error"}}, 500)
        if model == "busy429":
            return JSONResponse(
                {"error": {"message": "slow down", "type": "rate_limit_error"}}, 429, headers={"Retry-After": "0"}
            )
        if model == "unauthorized":
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            return JSONResponse(
                {
                    "error": {
                        "message": f"Incorrect API key provided: {key}",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
                401,
            )
        if model == "refuse":
            return JSONResponse(
                {
                    "error": {
                        "message": "Your request was rejected by the safety system.",
                        "type": "invalid_request_error",
                        "code": "content_policy_violation",
                    }
                },
                400,
            )
        if model == "hang":
            await asyncio.sleep(3600)
        if model == "slow-start":
            await asyncio.sleep(fake.delay)
        if model == "early-close":

            async def nothing() -> AsyncIterator[str]:
                raise _Drop
                yield ""

            return StreamingResponse(nothing(), media_type="text/event-stream")
        if model == "trickle":

            async def slowly() -> AsyncIterator[str]:
                for _ in range(600):
                    yield " "
                    await asyncio.sleep(0.1)
                yield json.dumps(
                    {
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}
                        ],
                        "usage": USAGE,
                    }
                )

            return StreamingResponse(slowly(), media_type="application/json")
        if model == "tools":
            return _tool_answer(body)
        if model == "refusal":
            return _refusal(body)
        if model == "echo-tools":
            return _tool_answer(body, _echo_call(body))
        return _text_answer(fake, model, body, chat=request.url.path.endswith("/chat/completions"))

    async def embeddings(request: Request) -> Response:
        body = await request.json()
        fake.received.append(Received(request.url.path, dict(request.headers), body))
        model = body.get("model", "").split(".")[0]
        if model == "fail500":
            return JSONResponse({"error": {"message": "upstream exploded", "type": "server_error"}}, 500)
        if model == "busy429":
            return JSONResponse(
                {"error": {"message": "slow down", "type": "rate_limit_error"}}, 429, headers={"Retry-After": "0"}
            )
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dimensions = int(body.get("dimensions") or EMBEDDING_DIMS)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_embedding(item, dimensions)}
            for i, item in enumerate(inputs)
        ]
        tokens = EMBEDDING_TOKENS_PER_INPUT * len(inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        # Out of order on purpose: a client must place each vector by its index.
        return JSONResponse({"object": "list", "data": data[::-1], "model": body["model"], "usage": usage})

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "ok", "object": "model"}]})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", answer, methods=["POST"]),
            Route("/v1/completions", answer, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/models", models),
        ]
    )


@contextmanager
def fake_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(_app(fake), host="127.0.0.1", port=port, log_level="critical", timeout_graceful_shutdown=1)
    )
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


def _echo_call(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """echo-tools: one call carrying the last user message back, so tests see what it was sent in a call's
    arguments (placeholders split across fragments included)."""
    last = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    return [("call_echo", "echo", json.dumps({"text": last}))]
