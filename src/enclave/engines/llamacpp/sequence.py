"""One request in flight inside the embedded engine, and the KV-cache slot it runs in."""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from enclave.engines.base import Delta, FinishReason, Usage
from enclave.engines.llamacpp.sampling import SamplerChain
from enclave.engines.stop import StopMatcher
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
    ) -> None:
        self.prompt = prompt
        self.sampler = sampler
        self.max_tokens = max_tokens
        self.ignore_eos = ignore_eos
        self.stops = StopMatcher(stop)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.sink = sink
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

    def emit(self, text: str, finish_reason: FinishReason | None = None) -> None:
        if finish_reason is None:
            if not text:
                return
            if self.held is None:
                self.sink(Delta(text))
            else:
                self.held.append(text)
            return
        self.finished = True
        tail = "" if finish_reason == "stop" and self.stops.stopped else self.stops.flush()
        usage = Usage(len(self.prompt), self.generated, self.cached_tokens, self.compute_seconds)
        head = "".join(self.held) if self.held else ""
        self.sink(Delta(head + text + self.decoder.decode(b"", final=True) + tail, finish_reason, usage))

    def fail(self, error: EnclaveError) -> None:
        self.finished = True
        self.sink(error)

    def close(self) -> None:
        self.sampler.close()


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
