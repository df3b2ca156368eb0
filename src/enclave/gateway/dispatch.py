"""The call stage: try the decision's targets in order, with retries, backoff and circuit breakers.

Failures before the first token are invisible to the client: the next allowed target answers instead. The
kinds of failure are treated differently: a bad request is never retried; a full engine or a too-long prompt
moves on to the next target; connection errors, 429 and 5xx are retried in place with backoff (honouring
Retry-After) and then failed over; a timeout is failed over at once, never retried in place. After the first
token, a broken stream is continued on the next allowed target where that can be done right
(``enclave.gateway.rescue``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from enclave.config import ProviderConfig
from enclave.engines.base import (
    Embedder,
    EmbeddingInput,
    Embeddings,
    Engine,
    Generation,
    GenerationRequest,
    ModelInfo,
)
from enclave.errors import (
    ContextLengthExceeded,
    EnclaveError,
    EngineOverloaded,
    NoTargetAvailable,
    UpstreamFailed,
    UpstreamTimeout,
)
from enclave.gateway.rescue import RescuedGeneration
from enclave.routing.breaker import CircuitBreaker
from enclave.routing.policy import RoutingDecision
from enclave.routing.table import Target

# Waiting longer than this for an upstream's Retry-After is worse than answering from another target.
_MAX_RETRY_WAIT_S = 10.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Attempt:
    target: Target
    outcome: str


class Dispatcher:
    def __init__(
        self,
        engines: dict[Target, Engine],
        providers: dict[str, ProviderConfig],
        embedders: dict[Target, Embedder] | None = None,
    ) -> None:
        self._engines = engines
        self._embedders = embedders or {}
        self._providers = providers
        self._breakers: dict[Target, CircuitBreaker] = {}
        for target in [*engines, *self._embedders]:
            provider = providers.get(target.provider)
            circuit = provider.circuit if provider else None
            self._breakers[target] = CircuitBreaker(
                circuit.failures if circuit else 5, circuit.cooldown if circuit else 10.0
            )

    def engine(self, target: Target) -> Engine:
        return self._engines[target]

    def engines(self) -> dict[Target, Engine]:
        return dict(self._engines)

    def embedders(self) -> dict[Target, Embedder]:
        return dict(self._embedders)

    def serving(self) -> list[tuple[Target, Engine | Embedder]]:
        """Every engine and embedder, for metrics and shutdown."""
        out: list[tuple[Target, Engine | Embedder]] = list(self._engines.items())
        out += self._embedders.items()
        return out

    def info(self, target: Target) -> ModelInfo:
        """What is known of the model behind ``target``, whichever operation it serves."""
        serving = self._engines.get(target) or self._embedders[target]
        return serving.info

    async def call(
        self, decision: RoutingDecision, request: GenerationRequest, external: GenerationRequest | None = None
    ) -> tuple[Target, RescuedGeneration, list[Attempt]]:
        """``external``, when given, is what an external target gets instead of ``request`` (pseudonymized).

        The generation returned continues on the decision's next targets if its stream breaks after the
        first token (see ``enclave.gateway.rescue``)."""
        attempts: list[Attempt] = []
        errors: list[EnclaveError] = []

        def request_for(target: Target) -> GenerationRequest:
            return external if external is not None and target.zone == "external" else request

        answered = await self.first_answer(decision.targets, request_for, attempts, errors)
        if answered is None:
            raise self._failure(decision, attempts, errors)
        target, generation = answered
        rescue = RescuedGeneration(self, decision, request, external, target, generation, attempts)
        return target, rescue, attempts

    async def embed(
        self, decision: RoutingDecision, inputs: Sequence[EmbeddingInput], dimensions: int | None
    ) -> tuple[Target, Embeddings, list[Attempt]]:
        """The embeddings of the first of the decision's targets that computes them, failing over as ``call``
        does (a whole answer: there is no stream to rescue)."""
        attempts: list[Attempt] = []
        errors: list[EnclaveError] = []

        def compute(target: Target) -> Awaitable[Embeddings]:
            return self._embedders[target].embed(inputs, dimensions=dimensions)

        answered = await self._first(decision.targets, self._embedders, compute, attempts, errors)
        if answered is None:
            raise self._failure(decision, attempts, errors)
        return answered[0], answered[1], attempts

    async def first_answer(
        self,
        targets: Iterable[Target],
        request_for: Callable[[Target], GenerationRequest],
        attempts: list[Attempt],
        errors: list[EnclaveError],
    ) -> tuple[Target, Generation] | None:
        """The first of ``targets`` to produce a first token, trying each as its provider allows; ``None`` when
        none did (each attempt and error is appended to the lists)."""

        def submit(target: Target) -> Awaitable[Generation]:
            return self._engines[target].submit(request_for(target))

        return await self._first(targets, self._engines, submit, attempts, errors)

    async def _first(
        self,
        targets: Iterable[Target],
        serving: Mapping[Target, object],
        start: Callable[[Target], Awaitable[T]],
        attempts: list[Attempt],
        errors: list[EnclaveError],
    ) -> tuple[Target, T] | None:
        """The first of ``targets`` whose ``start`` succeeds. A target that does not serve this operation (a
        policy rule's target, named for every route it matches) is passed over."""
        for target in targets:
            if target not in serving:
                attempts.append(Attempt(target, "does not serve this operation"))
                continue
            breaker = self._breakers[target]
            if not breaker.allow():
                attempts.append(Attempt(target, "circuit open"))
                continue
            result = await self._try(target, breaker, start, attempts, errors)
            if result is not None:
                return target, result
        return None

    async def _try(
        self,
        target: Target,
        breaker: CircuitBreaker,
        start: Callable[[Target], Awaitable[T]],
        attempts: list[Attempt],
        errors: list[EnclaveError],
    ) -> T | None:
        """One target, retried in place where the failure allows. However many tries it takes, a request
        counts once toward the target's circuit breaker."""
        provider = self._providers.get(target.provider)
        retries = provider.retries if provider else 0
        for attempt in range(retries + 1):
            try:
                result = await start(target)
            except (ContextLengthExceeded, EngineOverloaded) as exc:
                # Not the target's fault: it is healthy, just too small or too busy for this request.
                breaker.released()
                attempts.append(Attempt(target, exc.code or exc.type))
                errors.append(exc)
                return None
            except UpstreamFailed as exc:
                attempts.append(Attempt(target, exc.message))
                errors.append(exc)
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else (provider.backoff * 2**attempt * (0.5 + random.random()) if provider else 0.0)
                )
                if (
                    isinstance(exc, UpstreamTimeout)
                    or not exc.retryable
                    or attempt == retries
                    or (delay > _MAX_RETRY_WAIT_S)
                ):
                    breaker.failed(exc.message)
                    return None
                await asyncio.sleep(delay)
            except BaseException:
                breaker.released()
                raise
            else:
                breaker.succeeded()
                return result
        return None

    def record_failure(self, target: Target, error: EnclaveError) -> None:
        """A stream failed after its first token: it still counts against the target's health."""
        self._breakers[target].failed(error.message)

    @staticmethod
    def _failure(decision: RoutingDecision, attempts: list[Attempt], errors: list[EnclaveError]) -> EnclaveError:
        if errors and all(isinstance(e, type(errors[0])) for e in errors) and not isinstance(errors[0], UpstreamFailed):
            return errors[-1]  # e.g. the prompt is too long for every target: say that, not "unavailable"
        if len(attempts) == 1 and errors:
            return errors[0]
        tried = "; ".join(f"{a.target}: {a.outcome}" for a in attempts) or "no target"
        return NoTargetAvailable(f"No target could answer for model '{decision.model}' ({tried}).")

    def health(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for target, breaker in self._breakers.items():
            entry = out.setdefault(target.provider, {"zone": target.zone, "targets": {}})
            entry["targets"][target.model] = breaker.snapshot()  # type: ignore[index]
        return out
