"""An OpenAI-compatible upstream (OpenAI, Azure-style, vLLM, llama.cpp server, Ollama, another enclave) as an Engine.

``submit`` returns only once the upstream has produced its first token (or its whole answer), so that every
failure before that point is raised from ``submit`` and the gateway can fail over transparently. After that,
a failure is raised from the iteration.

What the client asked for (tools, response formats, ``n``, logprobs, other OpenAI fields) is sent on unchanged,
and what comes back (tool calls, choices, logprobs, finish reasons) is passed back unchanged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from enclave.config import ProviderConfig
from enclave.engines.base import (
    ChatMessage,
    Delta,
    FinishReason,
    GenerationRequest,
    ModelInfo,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from enclave.errors import ContextLengthExceeded, EnclaveError, InvalidRequest, UpstreamFailed, UpstreamTimeout

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
# An upstream's error code is kept for the client only when it looks like one (it becomes a metric label too).
_CODE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


class UpstreamProvider:
    """One HTTP client (connection pool) per provider, shared by its models.

    The client is aiohttp's rather than httpx's: on this hot path httpx cost about 570 µs of CPU per request
    against aiohttp's 160 µs (measured here against an instant upstream), and the gateway-overhead budget
    is 1.5 ms in all.
    """

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        key = os.environ.get(config.api_key_env) if config.api_key_env else None
        self._headers = dict(config.headers)
        if key:
            self._headers[config.api_key_header] = f"Bearer {key}" if config.api_key_header == "Authorization" else key
        self._secret = key
        self._base = config.base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the event loop that will use it. Only connecting is bounded here:
        # reads are bounded per call (first token, idle, total), which a socket read timeout would cap.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.config.timeouts.connect),
                connector=aiohttp.TCPConnector(limit=256),
            )
        return self._session

    def url(self, path: str) -> str:
        return self._base + path

    @property
    def query(self) -> dict[str, str]:
        return self.config.query

    def scrub(self, text: str) -> str:
        """Remove the provider's key from text that came back from it (some echo it in error messages)."""
        if self._secret and self._secret in text:
            text = text.replace(self._secret, "[redacted]")
        return text

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# --- the request, as OpenAI's wire format ---------------------------------------------------------------------


def _message(message: ChatMessage) -> dict[str, Any]:
    content: str | list[dict[str, Any]] | None = message.content
    if message.images:
        content = [*([{"type": "text", "text": message.content}] if message.content else []), *message.images]
    elif message.tool_calls and not message.content:
        content = None  # as OpenAI itself sends an assistant message that only calls tools
    out: dict[str, Any] = {"role": message.role, "content": content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def _tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    if tool.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_fields(request: GenerationRequest) -> dict[str, Any]:
    # OpenAI refuses tool_choice and parallel_tool_calls without tools; their defaults are left unsaid.
    if not request.tools:
        return {}
    fields: dict[str, Any] = {"tools": [_tool(t) for t in request.tools]}
    choice = request.tool_choice
    if choice in ("none", "required"):
        fields["tool_choice"] = choice
    elif choice != "auto":
        fields["tool_choice"] = {"type": "function", "function": {"name": choice}}
    if not request.parallel_tool_calls:
        fields["parallel_tool_calls"] = False
    return fields


def _response_format(request: GenerationRequest) -> dict[str, Any] | None:
    wanted = request.response_format
    if wanted.type == "json_object":
        return {"type": "json_object"}
    if wanted.type == "json_schema":
        schema: dict[str, Any] = {"name": wanted.name or "response", "schema": wanted.schema}
        if wanted.strict:
            schema["strict"] = True
        if wanted.description is not None:
            schema["description"] = wanted.description
        return {"type": "json_schema", "json_schema": schema}
    return None


def _body(model: str, request: GenerationRequest, stream: bool) -> dict[str, Any]:
    s = request.sampling
    # Fields passed through come first: what enclave sets itself (model, messages, stream) always wins.
    body: dict[str, Any] = {**request.passthrough, "model": model, "stream": stream}
    chat = request.messages is not None
    if request.messages is not None:
        body["messages"] = [_message(m) for m in request.messages]
        body.update(_tool_fields(request))
    else:
        body["prompt"] = request.prompt
    logprobs: Any = None
    if request.logprobs:
        # Chat takes a flag and a count; the legacy completions endpoint takes the count as "logprobs".
        logprobs = True if chat else request.top_logprobs
    optional = {
        "temperature": s.temperature,
        "top_p": s.top_p,
        "seed": s.seed,
        "max_tokens": request.max_tokens,
        "presence_penalty": s.presence_penalty or None,
        "frequency_penalty": s.frequency_penalty or None,
        "stop": list(request.stop) or None,
        "logit_bias": {str(k): v for k, v in s.logit_bias.items()} or None,
        "response_format": _response_format(request),
        "n": request.n if request.n != 1 else None,
        "logprobs": logprobs,
        "top_logprobs": request.top_logprobs if chat and request.logprobs and request.top_logprobs else None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if stream:
        body["stream_options"] = {**(request.passthrough.get("stream_options") or {}), "include_usage": True}
    return body


def _prompt_chars(request: GenerationRequest) -> int:
    if request.messages is not None:
        return sum(len(m.content) + sum(len(c.arguments) for c in m.tool_calls) for m in request.messages)
    return len(request.prompt or "")


# --- the answer, from OpenAI's wire format ----------------------------------------------------------------------


def _finish(value: object) -> FinishReason:
    return _FINISH.get(value, "stop") if isinstance(value, str) else "stop"


def _logprobs(raw: object) -> tuple[dict[str, Any], ...] | None:
    """OpenAI's ``logprobs.content`` entries; the legacy completions form is translated into them."""
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("content"), list):
        return tuple(raw["content"])
    tokens = raw.get("tokens")
    if not isinstance(tokens, list):
        return None
    values = raw.get("token_logprobs") or [None] * len(tokens)
    tops = raw.get("top_logprobs") or [None] * len(tokens)
    return tuple(
        {
            "token": token,
            "logprob": value,
            "bytes": list(token.encode()),
            "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in (top or {}).items()],
        }
        for token, value, top in zip(tokens, values, tops, strict=False)
    )


def _text(raw: object) -> str:
    if raw is not None and not isinstance(raw, str):
        raise TypeError("refusal is not text")
    return raw or ""


def _tool_call_deltas(raw: Any) -> tuple[ToolCallDelta, ...]:
    calls = []
    for position, call in enumerate(raw or ()):
        function = call.get("function") or {}
        calls.append(
            ToolCallDelta(
                int(call.get("index", position)), call.get("id"), function.get("name"), function.get("arguments") or ""
            )
        )
    return tuple(calls)


def _choice_deltas(data: Any) -> list[tuple[Delta, str | None]]:
    """Each choice of one stream chunk as a delta (without its finish reason) and the finish reason it gave.

    Raises TypeError, KeyError, ValueError or AttributeError on a chunk that is not an OpenAI chunk."""
    if "choices" in data and not isinstance(data["choices"], list | None):
        raise TypeError("choices is not a list")
    out = []
    for choice in data.get("choices") or ():
        delta = choice.get("delta") or {}
        text = delta.get("content") or choice.get("text") or ""
        if not isinstance(text, str):
            raise TypeError("content is not text")
        out.append(
            (
                Delta(
                    text,
                    choice=int(choice.get("index") or 0),
                    tool_calls=_tool_call_deltas(delta.get("tool_calls")),
                    logprobs=_logprobs(choice.get("logprobs")),
                    refusal=_text(delta.get("refusal")),
                ),
                choice.get("finish_reason"),
            )
        )
    return out


def _whole_deltas(data: Any) -> list[Delta]:
    """A non-streamed answer: one delta per choice, each with its finish reason."""
    deltas = []
    for choice in sorted(data["choices"], key=lambda c: int(c.get("index") or 0)):
        if "message" in choice:
            message = choice["message"] or {}
            text = message.get("content") or ""
            refusal = _text(message.get("refusal"))
            calls = tuple(
                ToolCallDelta(i, d.id, d.name, d.arguments)
                for i, d in enumerate(_tool_call_deltas(message.get("tool_calls")))
            )
        else:
            text, calls, refusal = choice.get("text") or "", (), ""
        if not isinstance(text, str):
            raise TypeError("content is not text")
        deltas.append(
            Delta(
                text,
                _finish(choice.get("finish_reason")),
                choice=int(choice.get("index") or 0),
                tool_calls=calls,
                logprobs=_logprobs(choice.get("logprobs")),
                refusal=refusal,
            )
        )
    if not deltas:
        raise KeyError("choices")
    return deltas


def _answer_chars(deltas: list[Delta]) -> int:
    return sum(len(d.text) + sum(len(c.arguments) for c in d.tool_calls) for d in deltas)


class UpstreamGeneration:
    """Deltas read from an upstream SSE stream (or one delta per choice for a non-streamed answer)."""

    def __init__(
        self, first: list[Delta], rest: AsyncIterator[Delta] | None, prompt_tokens: int, closer: Any = None
    ) -> None:
        self.prompt_tokens = prompt_tokens
        self._first = first
        self._rest = rest
        self._closer = closer
        self._closing: asyncio.Future[None] | None = None

    async def __aiter__(self) -> AsyncIterator[Delta]:
        try:
            for delta in self._first:
                yield delta
            if self._rest is not None:
                async for delta in self._rest:
                    yield delta
        finally:
            await self._close()

    async def _close(self) -> None:
        if self._closer is not None:
            closer, self._closer = self._closer, None
            await closer()

    def cancel(self) -> None:
        # Called from synchronous code when the consumer is gone: close the upstream response soon.
        if self._closer is not None and self._closing is None:
            self._closing = asyncio.ensure_future(self._close())


class UpstreamEngine:
    """A model served by an upstream provider."""

    def __init__(self, provider: UpstreamProvider, model: str, public_name: str) -> None:
        self.provider = provider
        self.model = model
        self.info = ModelInfo(
            name=public_name,
            aliases=(),
            architecture="remote",
            description=f"{provider.config.name}/{model}",
            quantization="n/a",
            parameters=0,
            size_bytes=0,
            context_train=0,
            context=0,
            source=provider.config.base_url,
            chat_template=False,
        )
        # Stream events that were not OpenAI chunks: each is skipped (one bad line does not end an answer).
        self.malformed_events = 0

    def stats(self) -> dict[str, float]:
        return {"malformed_events": float(self.malformed_events)}

    async def close(self) -> None:
        await self.provider.close()

    async def submit(self, request: GenerationRequest) -> UpstreamGeneration:
        path = "/chat/completions" if request.messages is not None else "/completions"
        if request.stream:
            return await self._stream(path, request)
        return await self._whole(path, request)

    # --- non-streaming ---------------------------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any]) -> bytes:
        """POST ``body`` to ``path`` and read the whole answer within the total timeout; transport failures,
        timeouts and non-200 statuses raised as the errors a client sees."""
        provider = self.provider
        total = provider.config.timeouts.total
        try:
            async with (
                asyncio.timeout(total),
                provider.session.post(provider.url(path), params=provider.query, json=body) as response,
            ):
                status, content, headers = response.status, await response.read(), response.headers
        except aiohttp.ClientError as exc:  # first: aiohttp's connect timeout is a ClientError and a TimeoutError
            raise self._transport_error(exc) from None
        except TimeoutError:
            raise UpstreamTimeout(f"{self._name} did not answer within {total:g} s") from None
        if status != 200:
            raise self._status_error(status, content, headers)
        return content

    async def _whole(self, path: str, request: GenerationRequest) -> UpstreamGeneration:
        content = await self._post(path, _body(self.model, request, stream=False))
        try:
            data = json.loads(content)
            deltas = _whole_deltas(data)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise UpstreamFailed(f"{self._name} returned a response that is not an OpenAI completion") from None
        estimate = max(1, math.ceil(_answer_chars(deltas) / 4))
        usage = self._usage(data.get("usage"), request, completion_estimate=estimate)
        deltas[-1] = dataclasses.replace(deltas[-1], usage=usage)
        return UpstreamGeneration(deltas, None, usage.prompt_tokens)

    # --- streaming -------------------------------------------------------------------------------------------

    async def _stream(self, path: str, request: GenerationRequest) -> UpstreamGeneration:
        provider = self.provider
        first_token = provider.config.timeouts.first_token
        # The first token is due this long after the request, however the upstream spends the time
        # (connecting, sending headers, thinking).
        deadline = asyncio.get_running_loop().time() + first_token
        response: aiohttp.ClientResponse | None = None
        first: list[Delta] = []
        try:
            async with asyncio.timeout_at(deadline):
                response = await provider.session.post(
                    provider.url(path), params=provider.query, json=_body(self.model, request, stream=True)
                )
                if response.status != 200:
                    try:
                        body = await response.read()
                    except aiohttp.ClientError:
                        body = b""
                    raise self._status_error(response.status, body, response.headers)
                deltas = self._deltas(response, request)
                async for delta in deltas:
                    first.append(delta)
                    if delta.text or delta.tool_calls or delta.refusal or delta.finish_reason:
                        break
        except aiohttp.ClientError as exc:
            _close(response)
            raise self._transport_error(exc) from None
        except TimeoutError:
            _close(response)
            raise UpstreamTimeout(f"{self._name} sent no token within {first_token:g} s of the request") from None
        except EnclaveError:
            _close(response)
            raise
        assert response is not None
        streaming = response

        async def close() -> None:
            streaming.close()

        return UpstreamGeneration(first, deltas, self._usage(None, request).prompt_tokens, close)

    async def _deltas(self, response: aiohttp.ClientResponse, request: GenerationRequest) -> AsyncIterator[Delta]:
        """Parse the upstream's SSE into deltas; each choice's finish reason comes last, the usage with the
        very last. A stream that ends, breaks or stalls after every choice it began has finished is complete,
        ``[DONE]`` or not; before that, it is a failure."""
        idle = self.provider.config.timeouts.idle
        lines = aiter(response.content)
        begun: set[int] = set()
        finishes: dict[int, FinishReason] = {}
        usage: Usage | None = None
        chars = 0
        while True:
            try:
                # Before the first token the caller's deadline bounds the wait; after it, each gap.
                async with asyncio.timeout(idle if begun else None):
                    raw = await anext(lines)
            except (StopAsyncIteration, TimeoutError, aiohttp.ClientError) as exc:
                if finishes and begun <= finishes.keys():
                    break
                if isinstance(exc, StopAsyncIteration):
                    raise UpstreamFailed(f"{self._name} ended the stream before finishing the answer") from None
                if isinstance(exc, TimeoutError):
                    raise UpstreamTimeout(f"{self._name} stalled mid-stream for {idle:g} s") from None
                raise UpstreamFailed(f"{self._name} broke off the stream ({type(exc).__name__})") from None
            if not raw.startswith(b"data:"):
                continue
            payload = raw[5:].strip()
            if payload == b"[DONE]":
                if not finishes:
                    raise UpstreamFailed(f"{self._name} ended the stream before finishing the answer")
                break
            try:
                data = json.loads(payload)
                if not isinstance(data, dict):
                    raise TypeError("an event is a JSON object")
                if data.get("error"):
                    raise self._stream_error(data["error"])
                pieces = _choice_deltas(data)
                chunk_usage = self._usage(data["usage"], request) if data.get("usage") else None
            except (ValueError, TypeError, KeyError, AttributeError):
                self.malformed_events += 1
                continue
            usage = chunk_usage or usage
            for delta, finish in pieces:
                if delta.text or delta.tool_calls or delta.logprobs or delta.refusal:
                    begun.add(delta.choice)
                    chars += len(delta.text) + sum(len(c.arguments) for c in delta.tool_calls)
                    yield delta
                if finish:
                    begun.add(delta.choice)
                    finishes[delta.choice] = _finish(finish)
        usage = usage or self._usage(None, request, completion_estimate=math.ceil(chars / 4))
        last = max(finishes)
        for choice in sorted(finishes):
            yield Delta("", finishes[choice], usage if choice == last else None, choice)

    # --- errors and usage ------------------------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return f"upstream {self.provider.config.name}/{self.model}"

    def _transport_error(self, exc: BaseException) -> UpstreamFailed:
        if isinstance(exc, TimeoutError):
            return UpstreamTimeout(f"{self._name} timed out ({type(exc).__name__})")
        return UpstreamFailed(f"{self._name} is unreachable ({type(exc).__name__})")

    def _status_error(self, status: int, body: bytes, headers: Mapping[str, str]) -> EnclaveError:
        try:
            error = json.loads(body).get("error") or {}
            message = self.provider.scrub(str(error.get("message") or "")) if isinstance(error, dict) else ""
            code = error.get("code") if isinstance(error, dict) else None
        except (ValueError, AttributeError):
            message, code = "", None
        detail = f"{self._name} answered {status}" + (f": {message}" if message else "")
        if status == 400 and code == "context_length_exceeded":
            return ContextLengthExceeded(detail)
        if status in (400, 422):
            # The request itself is wrong or refused (content policy): no other target would take it either,
            # and the client gets the upstream's reason and code.
            return _with_code(InvalidRequest(detail), code)
        retry_after = _retry_after(headers.get("retry-after"))
        # 429 and 5xx may pass (retry, then fail over); 401/403/404 mean this target is misconfigured: fail over.
        # Their codes concern enclave's account with the provider, not the client's request: not passed on.
        return UpstreamFailed(detail, retryable=status == 429 or status >= 500, retry_after=retry_after)

    def _stream_error(self, error: object) -> EnclaveError:
        """An error event inside a stream: a refusal of the request ends the answer as it is; anything else is
        the upstream failing (which the gateway may rescue on another target)."""
        fields = error if isinstance(error, dict) else {"message": str(error)}
        detail = f"{self._name} reported an error mid-stream: {self.provider.scrub(str(fields.get('message') or ''))}"
        refused = fields.get("type") == "invalid_request_error" or fields.get("code") in (
            "content_policy_violation",
            "content_filter",
        )
        return _with_code(InvalidRequest(detail) if refused else UpstreamFailed(detail), fields.get("code"))

    def _usage(self, raw: dict[str, Any] | None, request: GenerationRequest, completion_estimate: int = 0) -> Usage:
        if raw:
            cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0), int(cached))
        # The upstream did not report usage: estimate (about 4 characters a token), never report nothing.
        return Usage(max(1, math.ceil(_prompt_chars(request) / 4)), completion_estimate)


def _with_code(error: EnclaveError, code: object) -> EnclaveError:
    """Keep the upstream's own error code (``content_policy_violation``, ...) in the error the client gets."""
    if isinstance(code, str) and _CODE.fullmatch(code):
        error.code = code
    return error


def _close(response: aiohttp.ClientResponse | None) -> None:
    if response is not None:
        response.close()


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
