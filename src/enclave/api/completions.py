"""POST /v1/completions (the legacy text completion endpoint)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from enclave.api.chat import usage_body
from enclave.api.context import inference_call
from enclave.api.protocol import CompletionRequest
from enclave.api.streaming import DONE, collect, event, parse_body, response_head, sse_response
from enclave.gateway import Answer, Gateway

router = APIRouter()


def _choice(text: str, finish_reason: str | None) -> dict[str, Any]:
    return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}


async def _chunks(answer: Answer, head: dict[str, Any], include_usage: bool) -> AsyncIterator[str]:
    extra = {"usage": None} if include_usage else {}

    def chunk(text: str, finish_reason: str | None) -> str:
        return event({**head, "choices": [_choice(text, finish_reason)], **extra})

    # Every text chunk differs only in its text: format the rest once (this runs once per token).
    before, after = chunk("\x00", None).split('"\\u0000"')
    async for delta in answer:
        if delta.finish_reason is not None:
            yield chunk(delta.text, delta.finish_reason)
        elif delta.text:
            yield before + json.dumps(delta.text) + after
    if include_usage:
        yield event({**head, "choices": [], "usage": usage_body(answer.usage)})
    yield DONE


@router.post("/v1/completions", response_model=None)
async def completions(request: Request) -> StreamingResponse | JSONResponse:
    body = await parse_body(request, CompletionRequest)
    gateway: Gateway = request.app.state.gateway
    answer = await gateway.infer(inference_call(request, body))
    head = response_head("cmpl", "text_completion", answer.model)
    if body.stream:
        return sse_response(_chunks(answer, head, body.include_usage), answer)
    text, finish_reason = await collect(request, answer)
    body_out = {**head, "choices": [_choice(text, finish_reason)], "usage": usage_body(answer.usage)}
    return JSONResponse(body_out, headers=answer.headers)
