"""The request pipeline, as a plain object a test can call without a server.

Stages, in order: resolve the model → submit to its engine → account (metrics) while the answer streams.
Authentication, limits, inspection, routing and audit join here, in that order, as they are built.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from enclave.engines.base import Delta, Engine, Generation, GenerationRequest, ModelInfo, Usage
from enclave.errors import EnclaveError
from enclave.gateway.directory import ModelDirectory
from enclave.metrics import Metrics

Endpoint = Literal["chat", "completion"]


@dataclass(frozen=True, slots=True)
class InferenceCall:
    model: str
    request: GenerationRequest
    endpoint: Endpoint


class Answer:
    """A generation on its way back to the client, accounted as it is consumed.

    Iterate it exactly once. Metrics record the outcome when iteration ends: completed, failed or abandoned.
    """

    def __init__(self, model: str, endpoint: Endpoint, generation: Generation, metrics: Metrics,
                 started: float) -> None:
        self.model = model
        self.prompt_tokens = generation.prompt_tokens
        self.usage: Usage | None = None
        self._endpoint = endpoint
        self._generation = generation
        self._metrics = metrics
        self._started = started

    async def __aiter__(self) -> AsyncIterator[Delta]:
        status = "cancelled"
        first = True
        try:
            async for delta in self._generation:
                if first and delta.text:
                    first = False
                    self._metrics.time_to_first_token.labels(self.model).observe(time.perf_counter() - self._started)
                if delta.usage is not None:
                    self.usage = delta.usage
                    status = "ok"
                yield delta
        except EnclaveError as exc:
            status = exc.code or exc.type
            raise
        finally:
            self._generation.cancel()
            self._account(status)

    def _account(self, status: str) -> None:
        m = self._metrics
        m.requests.labels(self.model, self._endpoint, status).inc()
        m.latency.labels(self.model, self._endpoint).observe(time.perf_counter() - self._started)
        if self.usage is not None:
            m.tokens.labels(self.model, "prompt").inc(self.usage.prompt_tokens)
            m.tokens.labels(self.model, "completion").inc(self.usage.completion_tokens)


class Gateway:
    def __init__(self, engines: list[Engine], metrics: Metrics | None = None) -> None:
        self.directory = ModelDirectory(engines)
        self.metrics = metrics or Metrics()
        self.metrics.watch_engines(lambda: [(e.info.name, e.stats()) for e in self.directory.engines()])

    def models(self) -> list[ModelInfo]:
        return self.directory.models()

    async def infer(self, call: InferenceCall) -> Answer:
        """Run the pipeline up to the first token's request; errors here come before any output."""
        started = time.perf_counter()
        try:
            engine = self.directory.resolve(call.model)
        except EnclaveError as exc:
            self.metrics.requests.labels("", call.endpoint, exc.code or exc.type).inc()
            raise
        name = engine.info.name
        try:
            generation = await engine.submit(call.request)
        except EnclaveError as exc:
            self.metrics.requests.labels(name, call.endpoint, exc.code or exc.type).inc()
            raise
        return Answer(name, call.endpoint, generation, self.metrics, started)

    async def complete(self, call: InferenceCall) -> tuple[Answer, str, Delta]:
        """Non-streaming convenience: the whole text and the final delta."""
        answer = await self.infer(call)
        parts: list[str] = []
        final = Delta("")
        async for delta in answer:
            parts.append(delta.text)
            final = delta
        return answer, "".join(parts), final

    async def close(self) -> None:
        for engine in self.directory.engines():
            await engine.close()
