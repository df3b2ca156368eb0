"""The stages around the call: limit (before), account and audit (after), for every request and outcome.

A ``Ticket`` follows one request through the pipeline and collects what the ledger and the audit log need;
``Accounting.admit`` reserves rate-limit tokens and budget, ``Accounting.close`` settles them with the real
figures and queues the usage row, the audit entry and (where retention allows) the prompt and answer.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from enclave.access.keys import ANONYMOUS, Principal
from enclave.access.limits import Admission, Budget, Limiter, Quota
from enclave.audit.chain import AuditEntry
from enclave.config import LimitsConfig
from enclave.engines.base import ChatMessage, Delta, GenerationRequest, Usage
from enclave.gateway.rescue import Leg
from enclave.guard.actions import Verdict
from enclave.guard.findings import GuardReport
from enclave.ledger.busy import BusyClock, BusyRates
from enclave.ledger.prices import PriceSheet
from enclave.ledger.recorder import Recorder
from enclave.ledger.records import Retained, UsageRecord, month_of, new_request_id, tools_called
from enclave.routing.policy import RoutingDecision
from enclave.routing.table import Route, Target
from enclave.store.db import now_us

_DAY_US = 86_400_000_000


def _prompt_chars(request: GenerationRequest) -> int:
    if not request.messages:
        return len(request.prompt or "")
    chars = sum(len(m.content) + sum(len(c.arguments) for c in m.tool_calls) for m in request.messages)
    # Tool definitions are rendered into the prompt too.
    return chars + sum(len(t.description or "") + len(json.dumps(t.parameters)) for t in request.tools)


@dataclass(slots=True)
class Ticket:
    """One request's passage through the pipeline."""

    endpoint: str
    model: str
    # None for an operation that generates nothing (embeddings): it gives ``prompt_chars`` itself.
    request: GenerationRequest | None
    request_id: str = field(default_factory=new_request_id)
    started: float = field(default_factory=time.perf_counter)
    at_us: int = field(default_factory=now_us)
    principal: Principal = ANONYMOUS
    project: str | None = None
    admission: Admission | None = None
    decision: RoutingDecision | None = None
    target: Target | None = None
    report: GuardReport | None = None
    verdict: Verdict | None = None
    answer_findings: dict[str, int] | None = None  # personal data in the answer the request did not carry
    busy_mark: float | None = None
    ttft: float | None = None
    answer: list[Delta] | None = None  # the answer, collected only when retention keeps it
    tools: dict[str, int] = field(default_factory=dict)  # tool names the answer called, and how often
    legs: list[Leg] | None = None  # each target that answered part of the stream (more than one: rescued)
    prompt_chars: int = 0  # measured once: the policy, the limits and the budget all use it

    def __post_init__(self) -> None:
        if self.request is not None:
            self.prompt_chars = _prompt_chars(self.request)

    @property
    def prompt_estimate(self) -> int:
        """Prompt tokens before tokenizing (about 4 characters each), for reservations made ahead of the call."""
        return self.prompt_chars // 4 + 1

    @property
    def estimated_tokens(self) -> int:
        completion = (self.request.max_tokens or 0) if self.request is not None else 0
        return self.prompt_estimate + completion

    @property
    def completion_reserve(self) -> int:
        """Completion tokens the budget reserves before the call: all the request may generate."""
        request = self.request
        return (request.max_tokens or 1024) * request.n if request is not None else 0

    def headers(self) -> dict[str, str]:
        """What the client is told: the request id and the limits' state; once routed, where the request went,
        which rule sent it there and what the guard found (types and counts, never values)."""
        headers = {"x-request-id": self.request_id}
        target, decision, report = self.target, self.decision, self.report
        if target is not None and decision is not None:
            headers |= {
                "x-enclave-route": str(target),
                "x-enclave-zone": target.zone,
                "x-enclave-rule": decision.rule,
                "x-enclave-data-class": decision.data_class,
            }
            if decision.guard is not None:
                headers["x-enclave-guard-action"] = decision.guard
            if decision.excluded:
                headers["x-enclave-excluded"] = decision.exclusions()
        if self.admission is not None:
            headers |= self.admission.headers
        if report is not None and report.counts:
            headers["x-enclave-guard"] = report.summary()
        if self.answer_findings:
            # Known only once the answer is whole: a non-streamed answer's headers carry it.
            headers["x-enclave-guard-answer"] = GuardReport(counts=self.answer_findings).summary()
        return headers


class Accounting:
    def __init__(
        self, prices: PriceSheet, limits: LimitsConfig, limiter: Limiter | None = None, recorder: Recorder | None = None
    ) -> None:
        self.prices = prices
        self.limiter = limiter
        self.recorder = recorder
        self._limits = limits
        self._clocks: dict[str, BusyClock] = {}
        self._rates = BusyRates()  # busy time per token, for reserving hourly-priced requests

    def quotas(self, principal: Principal) -> list[Quota]:
        """Every limit that applies, key within project; all must admit the request."""
        quotas = []
        if not principal.anonymous:
            rpm = principal.rpm or self._limits.key_rpm
            tpm = principal.tpm or self._limits.key_tpm
            if rpm or tpm:
                quotas.append(Quota(f"key:{principal.actor}", rpm, tpm))
        project = principal.project
        if project is not None and (project.rpm or project.tpm):
            quotas.append(Quota(f"project:{project.name}", project.rpm, project.tpm))
        return quotas

    async def admit(self, ticket: Ticket, route: Route) -> None:
        """Rate limits and the budget, checked and reserved in one step. The budget reserves the most any of
        the route's targets would charge: routing comes later, and a reservation must not be too small."""
        if self.limiter is None:
            return
        quotas = self.quotas(ticket.principal)
        project = ticket.principal.project
        budget = None
        if project is not None and project.monthly_budget is not None:
            completion = ticket.completion_reserve
            estimate = max(
                self.prices.estimate(t, ticket.prompt_estimate, completion, self._rates.seconds_per_token(str(t)))
                for t in route.targets
            )
            budget = Budget(
                project.name, month_of(), project.monthly_budget, project.budget_action == "block", estimate
            )
        if quotas or budget is not None:
            ticket.admission = await self.limiter.admit(quotas, ticket.estimated_tokens, budget)

    def started(self, ticket: Ticket, target: Target) -> None:
        """The call went out: upstream targets start sharing their provider's busy time."""
        ticket.target = target
        if target.provider != "embedded":
            ticket.busy_mark = self._clocks.setdefault(target.provider, BusyClock()).start()

    def close(self, ticket: Ticket, status: str, usage: Usage | None) -> None:
        """Settle reservations and queue the ledger row and the audit entry; never raises into the request."""
        target = ticket.target
        compute = usage.compute_seconds if usage is not None else None
        if ticket.busy_mark is not None and target is not None:
            busy = self._clocks[target.provider].stop(ticket.busy_mark)
            compute = compute if compute is not None else busy
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        cost = self.prices.cost(target, prompt, completion, compute) if target is not None else 0.0
        rescued = ticket.legs if ticket.legs is not None and len(ticket.legs) > 1 else None
        if rescued is not None and usage is not None:
            # Each target that answered part of a rescued stream is charged for its own part.
            target = rescued[-1].target
            cost = sum(
                self.prices.cost(
                    leg.target, leg.usage.prompt_tokens, leg.usage.completion_tokens, leg.usage.compute_seconds
                )
                for leg in rescued
                if leg.usage is not None
            )
        if usage is not None and compute and target is not None and rescued is None:
            self._rates.observe(str(target), compute, ticket.prompt_estimate + completion)
        if self.limiter is not None and ticket.admission is not None:
            self.limiter.settle(ticket.admission, prompt + completion, cost)
        if self.recorder is None:
            return
        decision, report = ticket.decision, ticket.report
        row = UsageRecord(
            request_id=ticket.request_id,
            at_us=ticket.at_us,
            endpoint=ticket.endpoint,
            model=decision.model if decision else ticket.model,
            status=status,
            latency_ms=(time.perf_counter() - ticket.started) * 1000,
            key_prefix=None if ticket.principal.anonymous else ticket.principal.actor,
            project=ticket.project,
            target=str(target) if target else None,
            zone=target.zone if target else None,
            rule=decision.rule if decision else None,
            data_class=decision.data_class if decision else None,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=usage.cached_tokens if usage else 0,
            ttft_ms=ticket.ttft * 1000 if ticket.ttft is not None else None,
            compute_seconds=compute,
            cost=cost,
            guard=report.summary() if report and report.counts else None,
            tools=tools_called(ticket.tools),
            constrained=ticket.request is not None and ticket.request.constrained,
        )
        details: dict[str, object] = {
            "request_id": ticket.request_id,
            "endpoint": ticket.endpoint,
            "tokens": [prompt, completion],
        }
        if row.tools is not None:
            details["tools"] = row.tools  # names and counts, never arguments
        if row.constrained:
            details["constrained"] = True
        if decision is not None:
            details |= {"rule": decision.rule, "data_class": decision.data_class}
            if decision.excluded:
                details["excluded"] = {str(t): why for t, why in decision.excluded}
        if rescued is not None:
            details["legs"] = [
                {
                    "target": str(leg.target),
                    "outcome": leg.outcome,
                    "tokens": [leg.usage.prompt_tokens, leg.usage.completion_tokens] if leg.usage else None,
                }
                for leg in rescued
            ]
        if target is not None:
            details |= {"target": str(target), "zone": target.zone}
        if report is not None and report.counts:
            details["guard"] = dict(report.counts)  # types and counts, never values
        if ticket.verdict is not None and ticket.verdict.action is not None:
            details["guard_action"] = {"type": ticket.verdict.deciding, "action": ticket.verdict.action}
        if ticket.answer_findings:
            details["guard_answer"] = ticket.answer_findings  # types and counts, never values
        entry = AuditEntry(ticket.principal.actor, "inference", status, ticket.project, row.model, details)
        self.recorder.record(row, entry, self._retained(ticket, status))

    def _retained(self, ticket: Ticket, status: str) -> Retained | None:
        project = ticket.principal.project
        request = ticket.request
        if project is None or project.retention_days <= 0 or ticket.answer is None or status != "ok":
            return None
        assert request is not None  # only a generation collects an answer to retain
        prompt = json.dumps(
            [_retained_message(m) for m in request.messages] if request.messages is not None else request.prompt
        )
        return Retained(
            ticket.request_id,
            project.name,
            ticket.at_us,
            ticket.at_us + project.retention_days * _DAY_US,
            prompt,
            _retained_answer(ticket.answer),
        )

    def audit(self, entry: AuditEntry) -> None:
        if self.recorder is not None:
            self.recorder.record(audit=entry)


def _retained_message(message: ChatMessage) -> dict[str, object]:
    out: dict[str, object] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def _retained_answer(deltas: list[Delta]) -> str:
    """The answer's text; or, when it has several choices or tool calls, each choice as JSON."""
    if all(d.choice == 0 and not d.tool_calls for d in deltas):
        return "".join(d.text for d in deltas)
    choices: dict[int, tuple[list[str], dict[int, dict[str, str]]]] = {}
    for delta in deltas:
        text, calls = choices.setdefault(delta.choice, ([], {}))
        text.append(delta.text)
        for piece in delta.tool_calls:
            call = calls.setdefault(piece.index, {"name": "", "arguments": ""})
            call["name"] = piece.name or call["name"]
            call["arguments"] += piece.arguments
    return json.dumps(
        [
            {"content": "".join(text), "tool_calls": [c for _, c in sorted(calls.items())]}
            for _, (text, calls) in sorted(choices.items())
        ]
    )
