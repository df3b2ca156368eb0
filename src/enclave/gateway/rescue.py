"""Streams rescued after their first token: when the target answering breaks off or stalls, the decision's
next allowed target takes over and the client's stream goes on.

The rescuer continues in one of two ways:

- **regenerate** (any OpenAI-compatible API): it answers the same request from the start; its text is
  matched against what the client already has, and only what comes after is passed on. If it differs, the
  stream ends with the original error: divergent text is never spliced. (It matches when the rescuer writes
  the same text: the same model elsewhere, with greedy or seeded sampling.)
- **prefill** (targets that declare ``assistant_prefill``): it is sent the text so far as a trailing assistant
  message (appended to the prompt of a text completion) and continues it.

Not rescued, ending with the error as before: answers with tool calls, n > 1 choices or logprobs (what was
sent cannot be matched piece by piece), a refusal of the request by the upstream, and, when the request was
pseudonymized for external targets, a rescuer in the other zone (each side's text is written against
different values). Every target that took part is kept in ``legs`` with its usage, for accounting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from enclave.engines.base import ChatMessage, Delta, Generation, GenerationRequest, Usage
from enclave.errors import EnclaveError, UpstreamFailed
from enclave.routing.policy import RoutingDecision
from enclave.routing.table import Target

if TYPE_CHECKING:
    from enclave.gateway.dispatch import Attempt, Dispatcher


@dataclass(slots=True)
class Leg:
    """One target's part of an answer: the target that began it, and each that took over."""

    target: Target
    usage: Usage | None = None  # as the target reported it; estimated for a leg that broke off
    outcome: str = "ok"  # or why the leg ended early: the error's code, or "diverged"


class _Diverged(Exception):
    """The rescuer's text differs from what the client already has."""


class RescuedGeneration:
    """A Generation over the decision's targets: the first one's deltas, then a rescuer's, as one stream.

    ``target`` is the target answering now (once iteration has ended: the one that finished); ``legs`` has
    one entry per target that answered, in order. The usage on the last delta is the sum over all legs.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        decision: RoutingDecision,
        request: GenerationRequest,
        external: GenerationRequest | None,
        target: Target,
        generation: Generation,
        attempts: list[Attempt],
    ) -> None:
        self.prompt_tokens = generation.prompt_tokens
        self.target = target
        self.legs = [Leg(target)]
        self.attempts = attempts
        self._dispatcher = dispatcher
        self._decision = decision
        self._request = request
        self._external = external
        self._generation = generation
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True
        self._generation.cancel()

    async def __aiter__(self) -> AsyncIterator[Delta]:
        sent: list[str] = []  # the text the consumer has, as the targets wrote it (placeholders included)
        skip = ""  # text a regenerating rescuer must still reproduce before anything new is passed on
        rescuable = self._request.n == 1 and not self._request.logprobs
        failure: UpstreamFailed | None = None
        while True:
            leg = self.legs[-1]
            pieces = 0
            try:
                async for delta in self._generation:
                    pieces += bool(delta.text)
                    rescuable = rescuable and not delta.tool_calls
                    if skip:
                        matched, skip = _beyond(delta, skip)
                        if matched is None:
                            continue
                        delta = matched
                    if delta.usage is not None:
                        leg.usage = delta.usage
                        if len(self.legs) > 1:
                            delta = dataclasses.replace(delta, usage=_total(self.legs))
                    if delta.text:
                        sent.append(delta.text)
                    yield delta
                return
            except UpstreamFailed as exc:
                failure = exc
                self._dispatcher.record_failure(leg.target, exc)
                leg.outcome = exc.code or exc.type
            except _Diverged:
                assert failure is not None  # only a rescuer diverges, after a failure
                self._generation.cancel()
                leg.outcome = "diverged"
                failure.message += f"; {leg.target} could not take over: its answer differs from the text sent"
            assert failure is not None
            leg.usage = leg.usage or Usage(self._generation.prompt_tokens, pieces)
            if leg.outcome == "diverged" or not rescuable or self._cancelled:
                raise failure
            text = "".join(sent)
            if not await self._take_over(text, len(sent)):
                failure.message += "; no other target could take over"
                raise failure
            skip = "" if "assistant_prefill" in self.target.capabilities else text

    async def _take_over(self, text: str, tokens: int) -> bool:
        """Start the next allowed target after the current one; ``False`` when none could answer."""
        targets = self._decision.targets
        used = {leg.target for leg in self.legs}
        zone = self.legs[0].target.zone
        candidates = [
            t
            for t in targets[targets.index(self.target) + 1 :]
            if t not in used and (self._external is None or t.zone == zone)
        ]

        def request_for(target: Target) -> GenerationRequest:
            base = self._external if self._external is not None and target.zone == "external" else self._request
            return _continued(base, text, tokens) if "assistant_prefill" in target.capabilities else base

        try:
            answered = await self._dispatcher.first_answer(candidates, request_for, self.attempts, [])
        except EnclaveError:  # a rescuer refused the request: the original failure is what the client learns
            return False
        if answered is None:
            return False
        self.target, self._generation = answered
        self.legs.append(Leg(self.target))
        if self._cancelled:  # the consumer left while the rescuer was starting
            self._generation.cancel()
            return False
        return True


def _beyond(delta: Delta, skip: str) -> tuple[Delta | None, str]:
    """The part of a regenerating rescuer's delta beyond the text already sent (``None``: nothing yet), and
    what remains to be reproduced. Raises ``_Diverged`` as soon as the texts differ."""
    if delta.tool_calls:
        raise _Diverged
    matched = min(len(skip), len(delta.text))
    if delta.text[:matched] != skip[:matched]:
        raise _Diverged
    rest, skip = delta.text[matched:], skip[matched:]
    if skip and delta.finish_reason is not None:
        raise _Diverged  # it finished short of what was already sent
    if not rest and delta.finish_reason is None and delta.usage is None:
        return None, skip
    return dataclasses.replace(delta, text=rest), skip


def _continued(request: GenerationRequest, text: str, tokens: int) -> GenerationRequest:
    """The request with the answer so far prefilled, and only the rest of its token allowance."""
    max_tokens = None if request.max_tokens is None else max(1, request.max_tokens - tokens)
    if request.messages is not None:
        return dataclasses.replace(
            request, messages=(*request.messages, ChatMessage("assistant", text)), max_tokens=max_tokens
        )
    return dataclasses.replace(request, prompt=(request.prompt or "") + text, max_tokens=max_tokens)


def _total(legs: list[Leg]) -> Usage:
    usages = [leg.usage for leg in legs if leg.usage is not None]
    computes = [u.compute_seconds for u in usages if u.compute_seconds is not None]
    return Usage(
        sum(u.prompt_tokens for u in usages),
        sum(u.completion_tokens for u in usages),
        sum(u.cached_tokens for u in usages),
        sum(computes) if computes else None,
    )
