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


def _choice(index: int, text: str, finish_reason: str | None, logprobs: dict[str, Any] | None) -> dict[str, Any]:
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish_reason}


def legacy_logprobs(entries: list[dict[str, Any]] | tuple[dict[str, Any], ...], offset: int) -> dict[str, Any]:
    """Chat-style ``logprobs.content`` entries in the legacy endpoint's column form; ``offset`` is where the
    first token starts in the choice's text."""
    tokens, offsets = [], []
    for entry in entries:
        tokens.append(entry["token"])
        offsets.append(offset)
        offset += len(entry["token"])
    return {
        "tokens": tokens,
        "token_logprobs": [e["logprob"] for e in entries],
        "top_logprobs": [{t["token"]: t["logprob"] for t in e.get("top_logprobs") or ()} for e in entries],
        "text_offset": offsets,
    }


async def _chunks(answer: Answer, head: dict[str, Any], include_usage: bool) -> AsyncIterator[str]:
    extra = {"usage": None} if include_usage else {}

    def chunk(index: int, text: str, finish_reason: str | None, logprobs: dict[str, Any] | None = None) -> str:
        return event({**head, "choices": [_choice(index, text, finish_reason, logprobs)], **extra})

    # Every text chunk of a choice differs only in its text: format the rest once (this runs once per token).
    templates: dict[int, tuple[str, str]] = {}
    offsets: dict[int, int] = {}  # per choice: where its next token starts in its text
    async for delta in answer:
        index = delta.choice
        if delta.logprobs is not None:
            offset = offsets.get(index, 0)
            yield chunk(index, delta.text, delta.finish_reason, legacy_logprobs(delta.logprobs, offset))
            offsets[index] = offset + len(delta.text)
        elif delta.finish_reason is not None:
            yield chunk(index, delta.text, delta.finish_reason)
        elif delta.text:
            if index not in templates:
                before, after = chunk(index, "\x00", None).split('"\\u0000"')
                templates[index] = (before, after)
            before, after = templates[index]
            yield before + json.dumps(delta.text) + after
            offsets[index] = offsets.get(index, 0) + len(delta.text)
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
    collected = await collect(request, answer)
    choices = [
        _choice(
            c.index,
            "".join(c.text),
            c.finish_reason,
            legacy_logprobs(c.logprobs, 0) if body.logprobs is not None else None,
        )
        for c in collected
    ]
    body_out = {**head, "choices": choices, "usage": usage_body(answer.usage)}
    return JSONResponse(body_out, headers=answer.headers)
