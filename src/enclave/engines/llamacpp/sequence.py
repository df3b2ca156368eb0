"""One request in flight inside the embedded engine, and the KV-cache slot it runs in."""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import llama_cpp

from enclave.engines.base import Delta, FinishReason, ToolCallDelta, Usage
from enclave.engines.llamacpp.constraint import TokenConstraint
from enclave.engines.llamacpp.logprobs import Entry, LogprobRecorder
from enclave.engines.llamacpp.sampling import SamplerChain
from enclave.engines.stop import StopMatcher
from enclave.engines.structured.answer import ShapedAnswer
from enclave.errors import EnclaveError

Sink = Callable[[Delta | EnclaveError], None]


class Sequence:
    """The scheduler thread's view of a request: what is left to evaluate and what has come out.

    Only the scheduler thread touches it, except ``cancelled``, a flag the event loop may set at any time.
    """

    def __init__(
        self,
        prompt: list[int],
        sampler: SamplerChain,
        *,
        max_tokens: int,
        stop: tuple[str, ...],
        ignore_eos: bool,
        sink: Sink,
        stream: bool = True,
        choice: int = 0,
        logprobs: LogprobRecorder | None = None,
        leader: Sequence | None = None,
        constraint: TokenConstraint | None = None,
        answer: ShapedAnswer | None = None,
    ) -> None:
        self.prompt = prompt
        self.sampler = sampler
        self.max_tokens = max_tokens
        self.ignore_eos = ignore_eos
        self.stops = StopMatcher(stop)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.sink = sink
        self.choice = choice
        self.logprobs = logprobs
        # Another choice of the same request: this one waits until the leader's prompt is in the cache, then
        # copies it instead of evaluating the prompt again.
        self.leader = leader
        # A structured answer: the grammar its tokens must follow, and the parsing and checks of its text.
        self.constraint = constraint
        self.answer = answer
        # A client that does not stream gets one delta at the end: no wake-up of the event loop per token,
        # which would take CPU from the decode threads for nothing.
        self.held: list[str] | None = None if stream else []
        self.pending: list[int] = []  # tokens to evaluate next: the prompt's uncached tail, then each sample
        self.cached_tokens = 0
        self.generated = 0
        self.compute_seconds = 0.0  # this sequence's share of the decode steps it took part in
        self.cancelled = False
        self.finished = False
        self.submitted_at = time.monotonic()

    @property
    def prefilling(self) -> bool:
        return self.generated == 0

    @property
    def waits_for_leader(self) -> bool:
        leader = self.leader
        return leader is not None and not (leader.generated or leader.finished or leader.cancelled)

    def sample(self, ctx: llama_cpp.llama_context_p, output_index: int) -> int:
        """Pick this sequence's next token from output row ``output_index`` of the last decode."""
        # Logprobs describe the raw distribution: observed before anything (a constraint mask) changes it.
        if self.logprobs is not None:
            self.logprobs.observe(ctx, output_index)
        # Then the grammar: what it forbids gets -inf, so every sampler of the chain sees allowed tokens only.
        if self.constraint is not None:
            self.constraint.apply(ctx, output_index)
        token = self.sampler.sample(ctx, output_index)
        if self.constraint is not None:
            self.constraint.accept(token)
        if self.logprobs is not None:
            self.logprobs.record(token)
        return token

    def feed(self, piece: bytes) -> None:
        """Take the bytes of one generated token: decoded, split into content and calls, matched against the
        stop strings, and sent (or held for the final delta when the client does not stream)."""
        text, calls = self._shape(self.decoder.decode(piece))
        if not text and not calls:
            return
        if self.held is None:
            self.sink(Delta(text, choice=self.choice, tool_calls=tuple(calls), logprobs=self._logprobs()))
        else:
            self.held.append(text)  # a whole answer's calls come complete, from the parser, at the end

    def finish(self, reason: FinishReason) -> None:
        """Send the final delta. Raises ``EngineFailed`` when a complete structured answer fails its checks:
        the caller fails the sequence instead, so an invalid answer is never returned as valid."""
        text = ""
        calls: list[ToolCallDelta] = []
        if not (reason == "stop" and self.stops.stopped):
            text, calls = self._shape(self.decoder.decode(b"", final=True))
            if self.answer is not None:
                text += self.stops.feed(self.answer.flush())
            text += self.stops.flush()
        if self.answer is not None:
            reason = self.answer.finish(reason)
            if self.held is not None:
                calls = [ToolCallDelta(i, c.id, c.name, c.arguments) for i, c in enumerate(self.answer.calls)]
        if self.held is not None:
            text = "".join(self.held) + text
        self.finished = True
        usage = Usage(len(self.prompt), self.generated, self.cached_tokens, self.compute_seconds)
        logprobs = self._logprobs(self.generated)
        self.sink(Delta(text, reason, usage, self.choice, tool_calls=tuple(calls), logprobs=logprobs))

    def _shape(self, text: str) -> tuple[str, list[ToolCallDelta]]:
        calls: list[ToolCallDelta] = []
        if self.answer is not None:
            text, calls = self.answer.feed(text)
        # Stop strings end the content; a tool call (already split off) is never cut by one.
        return self.stops.feed(text), calls

    def _logprobs(self, limit: int | None = None) -> tuple[Entry, ...] | None:
        # A delta carries the entries of the tokens sampled since the previous delta (all of them when the
        # client does not stream); the tokens of text the stop matcher holds back ride with the next delta.
        return None if self.logprobs is None else self.logprobs.take(limit)

    def fail(self, error: EnclaveError) -> None:
        self.finished = True
        self.sink(error)

    def close(self) -> None:
        self.sampler.close()
        self.constraint = None  # the matcher's memory goes now, not whenever the client drops the generation


@dataclass(slots=True)
class Slot:
    """A llama.cpp sequence id and the tokens whose keys/values it holds in the cache, in position order."""

    seq_id: int
    tokens: list[int] = field(default_factory=list)
    sequence: Sequence | None = None
    last_used: float = 0.0


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    # Compare in strides first: prompts that share a long system prompt are the common case.
    while i + 64 <= n and a[i : i + 64] == b[i : i + 64]:
        i += 64
    while i < n and a[i] == b[i]:
        i += 1
    return i
