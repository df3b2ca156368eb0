"""What the gateway may rely on from any engine: submit a request, iterate its deltas, cancel it.

The interface is deliberately independent of how an engine schedules work: the embedded llama.cpp engine
batches all running sequences into one decode step, an upstream engine forwards to another server, and the
gateway cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

FinishReason = Literal["stop", "length", "cancelled"]


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
class ChatMessage:
    role: str
    content: str


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
class Delta:
    """A piece of generated text; the last delta of a generation carries ``finish_reason`` and ``usage``."""

    text: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


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
