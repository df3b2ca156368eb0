"""What the gateway may rely on from any engine: submit a request, iterate its deltas, cancel it.

The interface is deliberately independent of how an engine schedules work: the embedded llama.cpp engine
batches all running sequences into one decode step, an upstream engine forwards to another server, and the
gateway cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "cancelled"]


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Per-request sampling; ``None`` means the model's configured default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repeat_penalty: float | None = None
    logit_bias: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the assistant made: ``arguments`` is the JSON text of the arguments object, as OpenAI sends it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # system, user, assistant or tool ("developer" arrives here as "system")
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # assistant messages only
    tool_call_id: str | None = None  # tool messages only: the call this is the result of
    name: str | None = None
    # User messages only: the image_url content parts as sent ({"type": "image_url", "image_url": {...}}),
    # for targets that can see them (routing's "vision"); ``content`` holds the text parts, joined.
    images: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is a JSON Schema for its arguments object."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool = False


# "none", "auto", "required", or the name of one offered function (OpenAI's {"type":"function",...} form).
ToolChoice = str


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """What the answer's text must be: any text, a JSON object, or JSON valid against ``schema``."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool = False
    description: str | None = None  # what the schema is for; hosted models read it, the grammar does not


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """Exactly one of ``messages`` (chat, rendered with the model's template) and ``prompt`` (raw text)."""

    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    sampling: SamplingParams = SamplingParams()
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False
    # The client reads tokens as they come; an upstream engine may fetch a whole answer in one piece otherwise.
    stream: bool = True
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    response_format: ResponseFormat = ResponseFormat()
    n: int = 1  # choices to generate
    logprobs: bool = False
    top_logprobs: int = 0
    # Other valid OpenAI fields an upstream receives unchanged (``user``, ``metadata``, ``service_tier``, ...);
    # the embedded engine ignores them. Never holds messages, tools or anything the guard must see.
    passthrough: dict[str, Any] = field(default_factory=dict)

    @property
    def constrained(self) -> bool:
        """Whether the answer's shape is enforced (a JSON response format or a forced tool call)."""
        return self.response_format.type != "text" or (bool(self.tools) and self.tool_choice not in ("auto", "none"))


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    # Engine time this request used (its share of shared batches), when the engine can measure it.
    compute_seconds: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call, as OpenAI streams it: ``id`` and ``name`` in a call's first piece only, then
    fragments of ``arguments``. ``index`` numbers the calls of one choice from 0."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of one choice's answer. Each choice ends with one delta carrying its ``finish_reason``; the
    generation's very last delta also carries ``usage`` (summed over all choices).

    ``logprobs`` holds OpenAI's ``logprobs.content`` entries for this piece's tokens (dicts with ``token``,
    ``logprob``, ``bytes``, ``top_logprobs``), exactly as an upstream sent them or the engine computed them.
    """

    text: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    choice: int = 0
    tool_calls: tuple[ToolCallDelta, ...] = ()
    logprobs: tuple[dict[str, Any], ...] | None = None
    refusal: str = ""  # a hosted model's refusal (OpenAI's ``refusal``), passed on as it came


class Generation(Protocol):
    """A running generation. Iterating yields deltas until the one with a finish reason.

    Errors during generation are raised from the iteration as ``EnclaveError``. ``cancel`` is idempotent and
    frees the engine's resources at once (the client went away).
    """

    prompt_tokens: int

    def __aiter__(self) -> AsyncIterator[Delta]: ...

    def cancel(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What ``models list`` / ``models show`` and ``GET /v1/models`` report about a served model."""

    name: str
    aliases: tuple[str, ...]
    architecture: str
    description: str
    quantization: str
    parameters: int
    size_bytes: int
    context_train: int
    context: int
    source: str
    chat_template: bool


class Engine(Protocol):
    """A source of tokens for one model."""

    info: ModelInfo

    async def submit(self, request: GenerationRequest) -> Generation:
        """Validate and enqueue; raise ``EnclaveError`` (400/429/...) before any token is produced."""
        ...

    def stats(self) -> dict[str, float]:
        """Point-in-time gauges and counters for metrics (queue depth, active sequences, ...)."""
        ...

    async def close(self) -> None: ...


# A string, or token ids of the model's own vocabulary standing for the text (without the special tokens the
# model adds around every input: those are added as for a string).
EmbeddingInput = str | Sequence[int]


@dataclass(frozen=True, slots=True)
class Embeddings:
    """``vectors[i]`` is input i's embedding (float32, unit length); ``tokens[i]`` the tokens it used, the
    model's special tokens included (an upstream that reports only a total puts it all on the first input)."""

    vectors: np.ndarray
    tokens: tuple[int, ...]
    compute_seconds: float | None

    @property
    def prompt_tokens(self) -> int:
        return sum(self.tokens)


class Embedder(Protocol):
    """A source of embeddings for one model: the embedded llama.cpp embedder or an upstream's /embeddings."""

    info: ModelInfo

    async def embed(self, inputs: Sequence[EmbeddingInput], *, dimensions: int | None = None) -> Embeddings:
        """One vector per input, in order; ``EnclaveError`` (400 naming ``input`` or ``dimensions``, 429, 502)
        when it cannot."""
        ...

    def stats(self) -> dict[str, float]: ...

    async def close(self) -> None: ...
