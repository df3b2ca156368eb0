"""POST /v1/chat/completions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from enclave.api.context import inference_call
from enclave.api.protocol import ChatCompletionRequest
from enclave.api.streaming import (
    DONE,
    CollectedChoice,
    call_id,
    collect,
    event,
    parse_body,
    response_head,
    sse_response,
)
from enclave.engines.base import Delta, ToolCallDelta, Usage
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


class _ChunkWriter:
    """Chunks in OpenAI's delta shape, one choice each: the role first, then content, tool-call pieces
    (``id``, ``type`` and ``name`` in a call's first, argument fragments after) and the finish reason."""

    def __init__(self, head: dict[str, Any], include_usage: bool) -> None:
        self._head = head
        self._usage = {"usage": None} if include_usage else {}
        self._text: dict[int, tuple[str, str]] = {}
        self._started: set[tuple[int, int]] = set()  # (choice, call index) of the calls begun

    def chunk(
        self,
        index: int,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        logprobs: tuple[dict[str, Any], ...] | None = None,
    ) -> str:
        lp = {"content": list(logprobs), "refusal": None} if logprobs is not None else None
        choice = {"index": index, "delta": delta, "logprobs": lp, "finish_reason": finish_reason}
        return event({**self._head, "choices": [choice], **self._usage})

    def text(self, index: int, text: str) -> str:
        # The per-token path: every content chunk of a choice differs only in its text, so the rest is
        # formatted once per choice.
        parts = self._text.get(index)
        if parts is None:
            before, after = self.chunk(index, {"content": "\x00"}).split('"\\u0000"')
            parts = self._text[index] = (before, after)
        return parts[0] + json.dumps(text) + parts[1]

    def delta(self, delta: Delta) -> list[str]:
        """Every chunk a delta that is more than plain text becomes."""
        index = delta.choice
        out = []
        if delta.text or delta.logprobs:
            out.append(self.chunk(index, {"content": delta.text}, logprobs=delta.logprobs))
        if delta.refusal:
            out.append(self.chunk(index, {"refusal": delta.refusal}))
        for piece in delta.tool_calls:
            out.extend(self._tool_call(index, piece))
        if delta.finish_reason is not None:
            out.append(self.chunk(index, {}, delta.finish_reason))
        return out

    def _tool_call(self, index: int, piece: ToolCallDelta) -> list[str]:
        out = []
        key = (index, piece.index)
        if key not in self._started:
            self._started.add(key)
            first = {
                "index": piece.index,
                "id": piece.id or call_id(),
                "type": "function",
                "function": {"name": piece.name or "", "arguments": ""},
            }
            out.append(self.chunk(index, {"tool_calls": [first]}))
        if piece.arguments:
            fragment = {"index": piece.index, "function": {"arguments": piece.arguments}}
            out.append(self.chunk(index, {"tool_calls": [fragment]}))
        return out


async def _chunks(answer: Answer, head: dict[str, Any], include_usage: bool) -> AsyncIterator[str]:
    writer = _ChunkWriter(head, include_usage)
    for index in range(answer.choices):
        yield writer.chunk(index, {"role": "assistant", "content": ""})
    async for delta in answer:
        if delta.finish_reason is None and delta.logprobs is None and not delta.tool_calls and not delta.refusal:
            if delta.text:
                yield writer.text(delta.choice, delta.text)
        else:
            for chunk in writer.delta(delta):
                yield chunk
    if include_usage:
        yield event({**head, "choices": [], "usage": usage_body(answer.usage)})
    yield DONE


def _choice(collected: CollectedChoice, logprobs: bool) -> dict[str, Any]:
    text = "".join(collected.text)
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": "".join(collected.refusal) or None}
    if collected.calls:
        message["tool_calls"] = collected.tool_calls()
    if collected.calls or collected.refusal:
        # OpenAI's content is null when the answer is only tool calls or a refusal.
        message["content"] = text or None
    return {
        "index": collected.index,
        "message": message,
        "logprobs": {"content": collected.logprobs, "refusal": None} if logprobs else None,
        "finish_reason": collected.finish_reason,
    }


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(request: Request) -> StreamingResponse | JSONResponse:
    body = await parse_body(request, ChatCompletionRequest)
    gateway: Gateway = request.app.state.gateway
    answer = await gateway.infer(inference_call(request, body))
    head = response_head("chatcmpl", "chat.completion.chunk", answer.model)
    if body.stream:
        return sse_response(_chunks(answer, head, body.include_usage), answer)
    collected = await collect(request, answer)
    choices = [_choice(c, bool(body.logprobs)) for c in collected]
    body_out = {**head, "object": "chat.completion", "choices": choices, "usage": usage_body(answer.usage)}
    return JSONResponse(body_out, headers=answer.headers)
