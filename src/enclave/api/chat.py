"""POST /v1/chat/completions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from enclave.api.context import inference_call
from enclave.api.protocol import ChatCompletionRequest
from enclave.api.streaming import DONE, collect, event, parse_body, response_head, sse_response
from enclave.engines.base import Usage
from enclave.gateway import Answer, Gateway

router = APIRouter()


def usage_body(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


async def _chunks(answer: Answer, head: dict[str, Any], include_usage: bool) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return event({**head, "choices": [choice], **({"usage": None} if include_usage else {})})

    # Every content chunk differs only in its text: format the rest once (this runs once per token).
    before, after = chunk({"content": "\x00"}).split('"\\u0000"')
    yield chunk({"role": "assistant", "content": ""})
    async for delta in answer:
        if delta.text:
            yield before + json.dumps(delta.text) + after
        if delta.finish_reason is not None:
            yield chunk({}, delta.finish_reason)
    if include_usage:
        yield event({**head, "choices": [], "usage": usage_body(answer.usage)})
    yield DONE


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(request: Request) -> StreamingResponse | JSONResponse:
    body = await parse_body(request, ChatCompletionRequest)
    gateway: Gateway = request.app.state.gateway
    answer = await gateway.infer(inference_call(request, body))
    head = response_head("chatcmpl", "chat.completion.chunk", answer.model)
    if body.stream:
        return sse_response(_chunks(answer, head, body.include_usage), answer)
    text, finish_reason = await collect(request, answer)
    message = {"role": "assistant", "content": text, "refusal": None}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
    body_out = {**head, "object": "chat.completion", "choices": [choice], "usage": usage_body(answer.usage)}
    return JSONResponse(body_out, headers=answer.headers)
