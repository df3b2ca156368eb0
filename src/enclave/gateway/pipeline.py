"""The request pipeline, as a plain object a test can call without a server.

Stages, top to bottom: authenticate (the key alone decides who calls) → limit (rate limits, then the budget
once the target is known) → inspect (the guard finds sensitive data; findings raise the data class or block)
→ route (the policy decides which targets this request may use, and why) → call (the first healthy target
that answers, failing over before the first token) → restore (placeholders back to values) → account and
audit when the answer ends, whatever the outcome.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from enclave.access.auth import Access
from enclave.access.keys import Principal
from enclave.access.limits import MemoryLimiter
from enclave.access.roles import Permission
from enclave.config import DATA_CLASSES, DataClass, LimitsConfig, PricesConfig
from enclave.engines.base import ChatMessage, Delta, Generation, GenerationRequest, ModelInfo, Usage
from enclave.errors import EnclaveError, GuardBlocked, PermissionDenied, StoreUnavailable, UpstreamFailed
from enclave.gateway.accounting import Accounting, Ticket
from enclave.gateway.dispatch import Attempt, Dispatcher
from enclave.guard.findings import GUARD_ERROR, GuardReport
from enclave.guard.pseudonymize import Pseudonyms, StreamRestorer
from enclave.guard.scanner import Guard
from enclave.ledger.prices import PriceSheet
from enclave.metrics import Metrics
from enclave.routing.policy import RequestFacts, Router
from enclave.routing.table import Route, Target

Endpoint = Literal["chat", "completion"]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InferenceCall:
    model: str
    request: GenerationRequest
    endpoint: Endpoint
    data_class: DataClass | None = None
    project: str | None = None  # only heeded without auth: a key's project is the key's own
    credential: str | None = None  # the API key as sent; never logged, never stored


class Answer:
    """A generation on its way back to the client, accounted as it is consumed.

    Iterate it exactly once. When iteration ends (completed, failed or abandoned) metrics, limits, the ledger
    and the audit log record the outcome.
    """

    def __init__(self, ticket: Ticket, target: Target, attempts: list[Attempt], generation: Generation,
                 gateway: Gateway, pseudonyms: Pseudonyms | None) -> None:
        assert ticket.decision is not None and ticket.report is not None
        self.ticket = ticket
        self.decision = ticket.decision
        self.report = ticket.report
        # Only an answer from an external target was written against placeholders.
        self._restorer = StreamRestorer(pseudonyms) if pseudonyms and target.zone == "external" else None
        self.target = target
        self.attempts = attempts
        self.model = target.model  # the model that actually answers, after any fallback
        self.prompt_tokens = generation.prompt_tokens
        self.usage: Usage | None = None
        # Only a streamed answer has a first token the client sees; a whole answer arrives in one piece.
        self._streamed = ticket.request.stream
        self._generation = generation
        self._gateway = gateway
        self._closed = False

    @property
    def headers(self) -> dict[str, str]:
        """The routing decision, for the client: where it went and which rule sent it there."""
        headers = {
            "x-enclave-route": str(self.target),
            "x-enclave-zone": self.target.zone,
            "x-enclave-rule": self.decision.rule,
            "x-enclave-data-class": self.decision.data_class,
            **self.ticket.headers(),
        }
        if self.report.counts:
            headers["x-enclave-guard"] = self.report.summary()
        return headers

    async def __aiter__(self) -> AsyncIterator[Delta]:
        status = "cancelled"
        first = self._streamed
        ticket = self.ticket
        try:
            async for delta in self._generation:
                if self._restorer is not None:
                    text = self._restorer.feed(delta.text)
                    if delta.finish_reason is not None:
                        text += self._restorer.flush()
                    delta = Delta(text, delta.finish_reason, delta.usage)
                if first and delta.text:
                    first = False
                    ticket.ttft = time.perf_counter() - ticket.started
                    self._gateway.metrics.time_to_first_token.labels(self.decision.model).observe(ticket.ttft)
                if ticket.answer is not None:
                    ticket.answer.append(delta.text)
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
            self._end(status)

    def close(self) -> None:
        """End an answer that will not be read on (the client left, perhaps before its first chunk): the
        generation stops and the request is accounted as cancelled. Idempotent."""
        self._end("cancelled")

    def _end(self, status: str) -> None:
        if not self._closed:
            self._closed = True
            self._generation.cancel()
            self._gateway.finish(self.ticket, status, self.usage)


class Gateway:
    def __init__(self, router: Router, dispatcher: Dispatcher, guard: Guard | None = None,
                 metrics: Metrics | None = None, access: Access | None = None,
                 accounting: Accounting | None = None) -> None:
        self.router = router
        self.dispatcher = dispatcher
        self.guard = guard
        self.metrics = metrics or Metrics()
        self.access = access or Access(None, required=False)
        self.accounting = accounting or Accounting(PriceSheet(PricesConfig()), LimitsConfig(),
                                                   MemoryLimiter(lambda _project, _month: 0.0))
        self.metrics.watch_engines(
            lambda: [(t.model, e.stats()) for t, e in self.dispatcher.engines().items() if t.provider == "embedded"]
        )

    def models(self) -> list[tuple[Route, ModelInfo]]:
        """Every public model with what is known of its first target."""
        return [(route, self.dispatcher.engine(route.targets[0]).info) for route in self.router.table.routes()]

    async def authorize(self, credential: str | None, permission: Permission) -> Principal:
        principal = await self.access.authenticate(credential)
        principal.require(permission)
        return principal

    async def infer(self, call: InferenceCall) -> Answer:
        """Run the pipeline up to the first token; every error raised here comes before any output."""
        ticket = Ticket(call.endpoint, call.model, call.request)
        try:
            recorder = self.accounting.recorder
            if recorder is not None and recorder.backlogged:
                raise StoreUnavailable("Usage cannot be recorded right now (the database is unreachable); "
                                       "the request was not served.")
            ticket.principal = principal = await self.authorize(call.credential, Permission.INFER)
            project = principal.project
            ticket.project = project.name if project is not None else call.project
            route = self.router.table.resolve(call.model)
            if project is not None and not project.allows_model(route.names):
                raise PermissionDenied(f"Project '{project.name}' may not use model '{route.name}'.", param="model")
            await self.accounting.admit(ticket, route)
            ticket.report = report = self.inspect(call)
            facts = self.facts(call, ticket, report)
            ticket.decision = decision = self.router.decide(facts)
            if project is not None and project.retention_days > 0:
                ticket.answer = []
            pseudonyms, external = self.pseudonymize(call.request, report)
            target, generation, attempts = await self.dispatcher.call(decision, call.request, external)
        except EnclaveError as exc:
            self.metrics.requests.labels(call.model, call.endpoint, exc.code or exc.type).inc()
            self.accounting.close(ticket, exc.code or exc.type, None)
            raise
        self.accounting.started(ticket, target)
        self.metrics.routed.labels(decision.model, str(target), target.zone, decision.rule).inc()
        for attempt in attempts:
            self.metrics.failovers.labels(decision.model, str(attempt.target)).inc()
        return Answer(ticket, target, attempts, generation, self, pseudonyms if external is not None else None)

    def facts(self, call: InferenceCall, ticket: Ticket, report: GuardReport) -> RequestFacts:
        """What the policy decides on: the declared data class, raised by the project's floor and by what
        the guard found (when the guard keeps data local, or could not inspect the request)."""
        project = ticket.principal.project
        declared = call.data_class or self.router.default_data_class
        classes: list[DataClass] = [declared]
        if project is not None and project.data_class is not None:
            classes.append(project.data_class)
        keep_local = self.guard is not None and self.guard.config.action == "keep_local"
        if report.data_class is not None and (report.failed or keep_local):
            classes.append(report.data_class)
        data_class = max(classes, key=DATA_CLASSES.index)
        local_only = project is not None and project.local_only
        return RequestFacts(call.model, data_class, ticket.project, ticket.prompt_chars, local_only)

    def finish(self, ticket: Ticket, status: str, usage: Usage | None) -> None:
        m = self.metrics
        model = ticket.decision.model if ticket.decision else ticket.model
        m.requests.labels(model, ticket.endpoint, status).inc()
        m.latency.labels(model, ticket.endpoint).observe(time.perf_counter() - ticket.started)
        if usage is not None:
            m.tokens.labels(model, "prompt").inc(usage.prompt_tokens)
            m.tokens.labels(model, "completion").inc(usage.completion_tokens)
        self.accounting.close(ticket, status, usage)

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
        if self.accounting.limiter is not None:
            await self.accounting.limiter.close()
        if self.accounting.recorder is not None:
            await self.accounting.recorder.close()
