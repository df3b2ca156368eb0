"""The request pipeline, as a plain object a test can call without a server.

Stages, top to bottom: inspect (the guard finds sensitive data; findings raise the data class or block) →
route (the policy decides which targets this request may use, and why) → call (the first healthy target that
answers, failing over before the first token) → account (metrics) while the answer streams. Authentication,
limits and audit join here, in that order, as they are built.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from enclave.config import DATA_CLASSES, DataClass
from enclave.engines.base import ChatMessage, Delta, Generation, GenerationRequest, ModelInfo, Usage
from enclave.errors import EnclaveError, GuardBlocked, UpstreamFailed
from enclave.gateway.dispatch import Attempt, Dispatcher
from enclave.guard.findings import GUARD_ERROR, GuardReport
from enclave.guard.pseudonymize import Pseudonyms, StreamRestorer
from enclave.guard.scanner import Guard
from enclave.metrics import Metrics
from enclave.routing.policy import RequestFacts, Router, RoutingDecision
from enclave.routing.table import Route, Target

Endpoint = Literal["chat", "completion"]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InferenceCall:
    model: str
    request: GenerationRequest
    endpoint: Endpoint
    data_class: DataClass | None = None
    project: str | None = None

    def facts(self) -> RequestFacts:
        request = self.request
        chars = sum(len(m.content) for m in request.messages) if request.messages else len(request.prompt or "")
        return RequestFacts(self.model, self.data_class, self.project, chars)


class Answer:
    """A generation on its way back to the client, accounted as it is consumed.

    Iterate it exactly once. Metrics record the outcome when iteration ends: completed, failed or abandoned.
    """

    def __init__(self, call: InferenceCall, decision: RoutingDecision, target: Target, attempts: list[Attempt],
                 generation: Generation, gateway: Gateway, started: float, report: GuardReport,
                 pseudonyms: Pseudonyms | None) -> None:
        self.decision = decision
        self.report = report
        # Only an answer from an external target was written against placeholders.
        self._restorer = StreamRestorer(pseudonyms) if pseudonyms and target.zone == "external" else None
        self.target = target
        self.attempts = attempts
        self.model = target.model  # the model that actually answers, after any fallback
        self.prompt_tokens = generation.prompt_tokens
        self.usage: Usage | None = None
        self._endpoint = call.endpoint
        # Only a streamed answer has a first token the client sees; a whole answer arrives in one piece.
        self._streamed = call.request.stream
        self._generation = generation
        self._gateway = gateway
        self._started = started

    @property
    def headers(self) -> dict[str, str]:
        """The routing decision, for the client: where it went and which rule sent it there."""
        headers = {
            "x-enclave-route": str(self.target),
            "x-enclave-zone": self.target.zone,
            "x-enclave-rule": self.decision.rule,
            "x-enclave-data-class": self.decision.data_class,
        }
        if self.report.counts:
            headers["x-enclave-guard"] = self.report.summary()
        return headers

    async def __aiter__(self) -> AsyncIterator[Delta]:
        status = "cancelled"
        first = self._streamed
        metrics = self._gateway.metrics
        try:
            async for delta in self._generation:
                if self._restorer is not None:
                    text = self._restorer.feed(delta.text)
                    if delta.finish_reason is not None:
                        text += self._restorer.flush()
                    delta = Delta(text, delta.finish_reason, delta.usage)
                if first and delta.text:
                    first = False
                    metrics.time_to_first_token.labels(self.decision.model).observe(time.perf_counter() - self._started)
                if delta.usage is not None:
                    self.usage = delta.usage
                    status = "ok"
                yield delta
        except EnclaveError as exc:
            status = exc.code or exc.type
            if isinstance(exc, UpstreamFailed):
                self._gateway.dispatcher.record_failure(self.target, exc)
            raise
        finally:
            self._generation.cancel()
            self._account(status)

    def _account(self, status: str) -> None:
        m = self._gateway.metrics
        model = self.decision.model
        m.requests.labels(model, self._endpoint, status).inc()
        m.latency.labels(model, self._endpoint).observe(time.perf_counter() - self._started)
        if self.usage is not None:
            m.tokens.labels(model, "prompt").inc(self.usage.prompt_tokens)
            m.tokens.labels(model, "completion").inc(self.usage.completion_tokens)


class Gateway:
    def __init__(self, router: Router, dispatcher: Dispatcher, guard: Guard | None = None,
                 metrics: Metrics | None = None) -> None:
        self.router = router
        self.dispatcher = dispatcher
        self.guard = guard
        self.metrics = metrics or Metrics()
        self.metrics.watch_engines(
            lambda: [(t.model, e.stats()) for t, e in self.dispatcher.engines().items() if t.provider == "embedded"]
        )

    def models(self) -> list[tuple[Route, ModelInfo]]:
        """Every public model with what is known of its first target."""
        return [(route, self.dispatcher.engine(route.targets[0]).info) for route in self.router.table.routes()]

    async def infer(self, call: InferenceCall) -> Answer:
        """Run the pipeline up to the first token; every error raised here comes before any output."""
        started = time.perf_counter()
        try:
            report = self.inspect(call)
            facts = call.facts()
            keep_local = self.guard is not None and self.guard.config.action == "keep_local"
            if report.data_class is not None and (report.failed or keep_local):
                declared = facts.data_class or self.router.default_data_class
                raised = max(declared, report.data_class, key=DATA_CLASSES.index)
                facts = dataclasses.replace(facts, data_class=raised)
            decision = self.router.decide(facts)
            pseudonyms, external = self.pseudonymize(call.request, report)
            target, generation, attempts = await self.dispatcher.call(decision, call.request, external)
        except EnclaveError as exc:
            self.metrics.requests.labels(call.model, call.endpoint, exc.code or exc.type).inc()
            raise
        self.metrics.routed.labels(decision.model, str(target), target.zone, decision.rule).inc()
        for attempt in attempts:
            self.metrics.failovers.labels(decision.model, str(attempt.target)).inc()
        return Answer(call, decision, target, attempts, generation, self, started, report,
                      pseudonyms if external is not None else None)

    def pseudonymize(self, request: GenerationRequest, report: GuardReport
                     ) -> tuple[Pseudonyms | None, GenerationRequest | None]:
        """The request as an external target may see it: every finding replaced by a stable placeholder."""
        if not report.findings or self.guard is None or self.guard.config.action != "pseudonymize":
            return None, None
        pseudonyms = Pseudonyms()
        if request.messages is not None:
            texts = pseudonyms.apply([m.content for m in request.messages], report.findings)
            messages = tuple(ChatMessage(m.role, t) for m, t in zip(request.messages, texts, strict=True))
            return pseudonyms, dataclasses.replace(request, messages=messages)
        (prompt,) = pseudonyms.apply([request.prompt or ""], report.findings)
        return pseudonyms, dataclasses.replace(request, prompt=prompt)

    def inspect(self, call: InferenceCall) -> GuardReport:
        """The guard's findings; a guard that cannot decide fails closed (restricted: nothing leaves)."""
        if self.guard is None or not self.guard.config.enabled:
            return GuardReport()
        try:
            report = self.guard.inspect(call.request)
        except Exception:
            log.exception("the privacy guard failed; treating the request as restricted")
            report = GuardReport((), "restricted", {GUARD_ERROR: 1})
        for entity_type, count in report.counts.items():
            self.metrics.guard_findings.labels(entity_type).inc(count)
        if report.counts and self.guard.config.action == "block":
            raise GuardBlocked(f"The request contains sensitive data ({', '.join(sorted(report.counts))}); "
                               "this server's policy blocks it.")
        return report

    async def close(self) -> None:
        closed: set[int] = set()
        for engine in self.dispatcher.engines().values():
            closer = getattr(engine, "provider", engine)  # upstream engines share their provider's client
            if id(closer) not in closed:
                closed.add(id(closer))
                await engine.close()
