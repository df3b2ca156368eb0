"""The request pipeline, as a plain object a test can call without a server.

Stages, top to bottom: authenticate (the key alone decides who calls) → limit (rate limits, then the budget
once the target is known) → inspect (the guard finds sensitive data; findings raise the data class or block)
→ route (the policy decides which targets this request may use, and why) → call (the first healthy target
that answers, failing over before the first token) → restore (placeholders back to values) → account and
audit when the answer ends, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Literal

from enclave.access.auth import Access
from enclave.access.keys import Principal
from enclave.access.limits import MemoryLimiter
from enclave.access.roles import Permission
from enclave.access.sessions import Sessions
from enclave.config import DATA_CLASSES, DataClass, LimitsConfig, ModelType, PricesConfig
from enclave.engines.base import Delta, Generation, GenerationRequest, ModelInfo, ToolCallDelta, Usage
from enclave.errors import (
    AnswerBlocked,
    EnclaveError,
    GuardLimitExceeded,
    PermissionDenied,
    StoreUnavailable,
    WrongModelType,
)
from enclave.gateway.accounting import Accounting, Ticket
from enclave.gateway.dispatch import Attempt, Dispatcher
from enclave.gateway.embeddings import EmbeddingCall, EmbeddingResult, serve_embeddings
from enclave.gateway.needs import needs
from enclave.guard.actions import Verdict
from enclave.guard.findings import GUARD_ERROR, GuardReport
from enclave.guard.pseudonymize import Pseudonyms, StreamRestorer
from enclave.guard.scanner import Guard
from enclave.guard.texts import texts_of, with_texts
from enclave.ledger.dashboard import UsageReports
from enclave.ledger.prices import PriceSheet
from enclave.metrics import Metrics
from enclave.routing.capabilities import Capability
from enclave.routing.policy import RequestFacts, Router
from enclave.routing.table import Route, Target

Endpoint = Literal["chat", "completion"]
_ENDPOINTS: dict[ModelType, str] = {"chat": "/v1/chat/completions", "embedding": "/v1/embeddings"}
_TEXT = -1  # a choice's text, among the restorers kept by (choice, tool call index)
log = logging.getLogger(__name__)


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())


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

    def __init__(
        self,
        ticket: Ticket,
        target: Target,
        attempts: list[Attempt],
        generation: Generation,
        gateway: Gateway,
        pseudonyms: Pseudonyms | None,
    ) -> None:
        assert ticket.decision is not None and ticket.report is not None and ticket.request is not None
        self.ticket = ticket
        self.request = request = ticket.request
        self.decision = ticket.decision
        self.report = ticket.report
        # Only an answer from an external target was written against placeholders.
        self._pseudonyms = pseudonyms if pseudonyms and target.zone == "external" else None
        # Placeholders in a JSON answer stand inside JSON strings: their values go back escaped for that.
        self._json_text = request.response_format.type != "text"
        self._restorers: dict[tuple[int, int], StreamRestorer] = {}  # by (choice, tool call index or _TEXT)
        self._named: set[tuple[int, int]] = set()  # (choice, index) of the tool calls counted
        self.choices = request.n
        self.target = target
        self.attempts = attempts
        self.model = target.model  # the model that actually answers, after any fallback
        self.prompt_tokens = generation.prompt_tokens
        self.usage: Usage | None = None
        # Only a streamed answer has a first token the client sees; a whole answer arrives in one piece.
        self._streamed = request.stream
        self._generation = generation
        self._gateway = gateway
        self._closed = False
        self._consumer: asyncio.Task[object] | None = None  # the task iterating, for abort to interrupt
        self._delivering = False  # the reader holds a delta (is sending it): abort must not cancel it there
        self._abort: EnclaveError | None = None
        guard = gateway.guard
        # What an external target wrote, read once it is whole for personal data the request did not carry.
        reads = guard is not None and guard.config.enabled and target.zone == "external"
        self._answers = guard.config.answers if guard is not None and reads else "off"
        self._said: list[str] = []

    @property
    def headers(self) -> dict[str, str]:
        """The routing decision, for the client: where it went and which rule sent it there."""
        return self.ticket.headers()

    async def __aiter__(self) -> AsyncIterator[Delta]:
        status = "cancelled"
        first = self._streamed
        ticket = self.ticket
        self._consumer = asyncio.current_task()
        try:
            if self._abort is not None:
                raise self._abort
            async for delta in self._generation:
                if self._pseudonyms is not None:
                    delta = self._restore(delta)
                if first and (delta.text or delta.tool_calls):
                    first = False
                    ticket.ttft = time.perf_counter() - ticket.started
                    self._gateway.metrics.time_to_first_token.labels(self.decision.model).observe(ticket.ttft)
                if delta.tool_calls:
                    self._count_calls(delta)
                if self._answers != "off":
                    self._said += [delta.text, *(piece.arguments for piece in delta.tool_calls)]
                if ticket.answer is not None:
                    ticket.answer.append(delta)
                if delta.usage is not None:
                    self.usage = delta.usage
                    status = "ok"
                self._delivering = True
                yield delta
                self._delivering = False
                if self._abort is not None:
                    raise self._abort
            if self._answers != "off":
                await self._check_answer()
        except asyncio.CancelledError:
            if self._abort is None or self._consumer is None:
                raise
            # The cancellation was abort's: it becomes the abort's error, which the client sees.
            self._consumer.uncancel()
            status = self._abort.code or self._abort.type
            raise self._abort from None
        except EnclaveError as exc:
            # A target that failed mid-stream was already counted against its circuit (gateway.rescue).
            status = exc.code or exc.type
            raise
        finally:
            self._end(status)

    async def _check_answer(self) -> None:
        """Flag personal data in the whole answer that the request did not carry (types and counts in the audit
        log); under ``guard.answers: block`` a non-streamed answer holding some is refused. A stream is only
        flagged: its text reached the client as it came, so refusing it at the end would protect nothing."""
        found = await self._gateway.new_in_answer(self.request, "".join(self._said))
        if not found:
            return
        self.ticket.answer_findings = found
        if self._answers == "block" and not self._streamed:
            raise AnswerBlocked(
                f"The answer of {self.target} contains personal data that was not in the request "
                f"({', '.join(sorted(found))}); this server's policy refuses it."
            )

    def _count_calls(self, delta: Delta) -> None:
        """The ledger's record of the tools called: each call once, by the name its first piece carries."""
        for piece in delta.tool_calls:
            key = (delta.choice, piece.index)
            if piece.name and key not in self._named:
                self._named.add(key)
                self.ticket.tools[piece.name] = self.ticket.tools.get(piece.name, 0) + 1

    def _restore(self, delta: Delta) -> Delta:
        """Placeholders back to values in one delta: per choice in its text, per tool call in its arguments
        (which arrive in fragments: a placeholder may be split across chunks)."""
        choice = delta.choice
        text = self._restorer(choice, _TEXT).feed(delta.text) if delta.text else ""
        calls: list[ToolCallDelta] = []
        for piece in delta.tool_calls:
            if (choice, piece.index) not in self._restorers:
                # A call begins: what the text and the calls before it held back is complete now.
                text += self._flush(choice, _TEXT)
                calls += self._flush_calls(choice)
            restorer = self._restorer(choice, piece.index)
            calls.append(
                dataclasses.replace(piece, arguments=restorer.feed(piece.arguments) if piece.arguments else "")
            )
        if delta.finish_reason is not None:
            text += self._flush(choice, _TEXT)
            calls += self._flush_calls(choice)
        return dataclasses.replace(delta, text=text, tool_calls=tuple(calls))

    def _restorer(self, choice: int, stream: int) -> StreamRestorer:
        restorer = self._restorers.get((choice, stream))
        if restorer is None:
            assert self._pseudonyms is not None
            in_json = stream != _TEXT or self._json_text  # tool-call arguments are always JSON
            restorer = self._restorers[(choice, stream)] = StreamRestorer(self._pseudonyms, in_json=in_json)
        return restorer

    def _flush(self, choice: int, stream: int) -> str:
        restorer = self._restorers.get((choice, stream))
        return restorer.flush() if restorer is not None else ""

    def _flush_calls(self, choice: int) -> list[ToolCallDelta]:
        """What the restorers of a choice's tool calls held back, as argument fragments of those calls."""
        held = [
            (index, restorer.flush())
            for (c, index), restorer in self._restorers.items()
            if c == choice and index != _TEXT
        ]
        return [ToolCallDelta(index, arguments=text) for index, text in held if text]

    def close(self) -> None:
        """End an answer that will not be read on (the client left, perhaps before its first chunk): the
        generation stops and the request is accounted as cancelled. Idempotent."""
        self._end("cancelled")

    def abort(self, error: EnclaveError) -> None:
        """End the answer early with ``error`` (the server is shutting down): its reader gets the error where
        it waits for the next delta (a stream ends with it as an error event), and it is accounted so."""
        if self._closed or self._abort is not None:
            return
        self._abort = error
        if self._consumer is not None and not self._delivering:
            self._consumer.cancel()  # it waits for the next delta; one being delivered checks after it

    def _end(self, status: str) -> None:
        if not self._closed:
            self._closed = True
            self._generation.cancel()
            self._gateway.answers.discard(self)
            self._gateway.finish(self.ticket, status, self.usage)


class Gateway:
    def __init__(
        self,
        router: Router,
        dispatcher: Dispatcher,
        guard: Guard | None = None,
        metrics: Metrics | None = None,
        access: Access | None = None,
        accounting: Accounting | None = None,
        reports: UsageReports | None = None,
        sessions: Sessions | None = None,
    ) -> None:
        self.router = router
        self.dispatcher = dispatcher
        self.guard = guard
        self.metrics = metrics or Metrics()
        self.access = access or Access(None, required=False)
        self.accounting = accounting or Accounting(
            PriceSheet(PricesConfig()), LimitsConfig(), MemoryLimiter(lambda _project, _month: 0.0)
        )
        self.reports = reports  # the ledger's read side for the dashboard; None without a store
        self.sessions = sessions  # the dashboard's sign-ins; None without a store
        self.answers: set[Answer] = set()  # in flight: what a shutdown waits for, and ends at its deadline
        # Embedded engines are labelled by model name, upstream ones by target (their models' names may clash).
        self.metrics.watch_engines(
            lambda: [(t.model if t.provider == "embedded" else str(t), e.stats()) for t, e in self.dispatcher.serving()]
        )

    def models(self) -> list[tuple[Route, ModelInfo]]:
        """Every public model with what is known of its first target."""
        return [(route, self.dispatcher.info(route.targets[0])) for route in self.router.table.routes()]

    def model(self, name: str) -> tuple[Route, ModelInfo]:
        """The public model ``name`` stands for (ModelNotFound if none) with what is known of its first target."""
        route = self.router.table.resolve(name)
        return route, self.dispatcher.info(route.targets[0])

    async def authorize(self, credential: str | None, permission: Permission) -> Principal:
        principal = await self.access.authenticate(credential)
        principal.require(permission)
        return principal

    def ticket(self, endpoint: str, model: str, request: GenerationRequest | None = None) -> Ticket:
        # The public name, never the client's text: a made-up name is one label and one value, not a new one each.
        return Ticket(endpoint, self.router.table.name_of(model), request)

    async def admit(
        self, ticket: Ticket, model: str, credential: str | None, claimed: str | None, operation: ModelType
    ) -> None:
        """The stages every operation begins with: the ledger can record it, the key may call, the model exists
        and serves ``operation``, the caller's project may use it, and rate limits and the budget admit it."""
        recorder = self.accounting.recorder
        if recorder is not None and recorder.backlogged:
            raise StoreUnavailable(
                "Usage cannot be recorded right now (the database is unreachable); the request was not served."
            )
        ticket.principal = principal = await self.authorize(credential, Permission.INFER)
        project = principal.project
        # A project named in the request is heeded only without auth: with auth, a key's project is its own.
        ticket.project = project.name if project is not None else (None if self.access.required else claimed)
        route = self.router.table.resolve(model)
        if project is not None and not project.allows_model(route.names):
            raise PermissionDenied(f"Project '{project.name}' may not use model '{route.name}'.", param="model")
        if route.type != operation:
            raise WrongModelType(
                f"The model '{route.name}' is {'an embedding' if route.type == 'embedding' else 'a chat'} model: "
                f"use {_ENDPOINTS[route.type]} with it, not {_ENDPOINTS[operation]}.",
                param="model",
            )
        await self.accounting.admit(ticket, route)

    async def infer(self, call: InferenceCall) -> Answer:
        """Run the pipeline up to the first token; every error raised here comes before any output."""
        ticket = self.ticket(call.endpoint, call.model, call.request)
        try:
            await self.admit(ticket, call.model, call.credential, call.project, "chat")
            project = ticket.principal.project
            ticket.report, ticket.verdict = report, verdict = await self.examine(call, ticket.project)
            facts = self.facts(call, ticket, verdict)
            ticket.decision = decision = self.router.decide(facts)
            if project is not None and project.retention_days > 0:
                ticket.answer = []
            pseudonyms, external = self.pseudonymize(call.request, report, verdict)
            target, generation, attempts = await self.dispatcher.call(decision, call.request, external)
        except EnclaveError as exc:
            self.metrics.requests.labels(ticket.model, call.endpoint, exc.code or exc.type).inc()
            self.accounting.close(ticket, exc.code or exc.type, None)
            raise
        ticket.legs = generation.legs
        self.routed(ticket, target, attempts)
        answer = Answer(ticket, target, attempts, generation, self, pseudonyms if external is not None else None)
        self.answers.add(answer)
        return answer

    def routed(self, ticket: Ticket, target: Target, attempts: list[Attempt]) -> None:
        """The call went out to ``target`` (after ``attempts`` failed): accounted and counted."""
        assert ticket.decision is not None
        model = ticket.decision.model
        self.accounting.started(ticket, target)
        self.metrics.routed.labels(model, str(target), target.zone, ticket.decision.rule).inc()
        for attempt in attempts:
            self.metrics.failovers.labels(model, str(attempt.target)).inc()

    async def embed(self, call: EmbeddingCall) -> EmbeddingResult:
        """The embeddings operation through the same stages (see ``enclave.gateway.embeddings``)."""
        return await serve_embeddings(self, call)

    def facts(self, call: InferenceCall, ticket: Ticket, verdict: Verdict) -> RequestFacts:
        """``policy_facts`` for a generation, with what it needs of its target (tools, JSON, logprobs, n,
        images)."""
        return self.policy_facts(call.model, call.data_class, ticket, verdict, needs(call.request))

    def policy_facts(
        self,
        model: str,
        declared: DataClass | None,
        ticket: Ticket,
        verdict: Verdict,
        wanted: frozenset[Capability] = frozenset(),
    ) -> RequestFacts:
        """What the policy decides on: the declared data class, raised by the project's floor and by what
        the guard found (the findings whose action keeps them local, or a guard that could not inspect the
        request), and what the request needs of its target."""
        project = ticket.principal.project
        declared = declared or self.router.default_data_class
        classes: list[DataClass] = [declared]
        if project is not None and project.data_class is not None:
            classes.append(project.data_class)
        if verdict.data_class is not None:
            classes.append(verdict.data_class)
        data_class = max(classes, key=DATA_CLASSES.index)
        local_only = project is not None and project.local_only
        return RequestFacts(
            model, data_class, ticket.project, ticket.prompt_chars, local_only, wanted, verdict.describe()
        )

    def finish(self, ticket: Ticket, status: str, usage: Usage | None) -> None:
        m = self.metrics
        model = ticket.decision.model if ticket.decision else ticket.model
        m.requests.labels(model, ticket.endpoint, status).inc()
        m.latency.labels(model, ticket.endpoint).observe(time.perf_counter() - ticket.started)
        if usage is not None:
            m.tokens.labels(model, "prompt").inc(usage.prompt_tokens)
            m.tokens.labels(model, "completion").inc(usage.completion_tokens)
        self.accounting.close(ticket, status, usage)

    def pseudonymize(
        self, request: GenerationRequest, report: GuardReport, verdict: Verdict
    ) -> tuple[Pseudonyms | None, GenerationRequest | None]:
        """The request as an external target may see it: every finding of a type whose action is pseudonymize
        replaced by a stable placeholder (the others kept it local, or were allowed out as they are)."""
        if not verdict.masked:
            return None, None
        pseudonyms = Pseudonyms()
        # Findings index the request's texts (guard.texts): messages, tool-call arguments, tool definitions,
        # the response schema and passthrough fields are all replaced, JSON staying valid JSON.
        findings = [f for f in report.findings if f.entity_type in verdict.masked]
        masked = pseudonyms.apply(texts_of(request), findings)
        return pseudonyms, with_texts(request, masked)

    async def new_in_answer(self, request: GenerationRequest, answer: str) -> dict[str, int]:
        """Types and counts of the personal data in ``answer`` whose value appears nowhere in ``request``'s
        texts (compared case- and space-insensitively); a guard that cannot read the answer counts as one
        GUARD_ERROR (fails closed)."""
        assert self.guard is not None
        try:
            report = await self.guard.scan_async([answer])
        except Exception:
            log.exception("the privacy guard could not read an answer; flagging it")
            return {GUARD_ERROR: 1}
        if not report.findings:
            return {}
        asked = _plain("\n".join(texts_of(request)))
        new = [f.entity_type for f in report.findings if _plain(answer[f.start : f.end]) not in asked]
        return dict(Counter(new))

    async def inspect(self, call: InferenceCall) -> GuardReport:
        """``examine``'s report, for the project the call names."""
        report, _ = await self.examine(call, call.project)
        return report

    async def examine(self, call: InferenceCall, project: str | None) -> tuple[GuardReport, Verdict]:
        """The guard's findings in every text the call's request carries (``guard.texts``) and their verdict
        (see ``judge``)."""
        if self.guard is None or not self.guard.config.enabled:
            return GuardReport(), Verdict()
        return await self.judge(self.guard.inspect_async(call.request), project)

    async def examine_texts(self, texts: list[str], project: str | None) -> tuple[GuardReport, Verdict]:
        """``examine`` for an operation whose texts are plain strings (embedding inputs)."""
        if self.guard is None or not self.guard.config.enabled:
            return GuardReport(), Verdict()
        return await self.judge(self.guard.scan_async(texts), project)

    async def judge(self, scan: Awaitable[GuardReport], project: str | None) -> tuple[GuardReport, Verdict]:
        """The guard's findings (long texts scanned off the event loop) and what they mean for the request under
        ``project``'s actions: GuardBlocked where a type found is to be blocked. A guard that cannot decide fails
        closed (restricted: nothing leaves), and so does one asked to read more than guard.max_chars: under
        ``block`` that request is refused."""
        assert self.guard is not None
        try:
            report = await scan
        except GuardLimitExceeded as exc:
            if self.guard.config.action == "block":
                raise
            log.warning("%s Treating the request as restricted.", exc.message)
            report = GuardReport((), "restricted", {GUARD_ERROR: 1})
        except Exception:
            log.exception("the privacy guard failed; treating the request as restricted")
            report = GuardReport((), "restricted", {GUARD_ERROR: 1})
        for entity_type, count in report.counts.items():
            self.metrics.guard_findings.labels(entity_type).inc(count)
        return report, self.guard.actions.verdict(report, project)

    def abort_all(self, error: EnclaveError) -> int:
        """End every answer in flight with ``error``; returns how many there were."""
        answers = list(self.answers)
        for answer in answers:
            answer.abort(error)
        return len(answers)

    async def close(self) -> None:
        if self.guard is not None:
            await self.guard.close()
        closed: set[int] = set()
        for _, engine in self.dispatcher.serving():
            closer = getattr(engine, "provider", engine)  # upstream engines share their provider's client
            if id(closer) not in closed:
                closed.add(id(closer))
                await engine.close()
        if self.accounting.limiter is not None:
            await self.accounting.limiter.close()
        if self.accounting.recorder is not None:
            await self.accounting.recorder.close()
