"""The embeddings operation: the gateway's stages for a request that generates nothing.

Authenticate, admit (limits and budget), inspect, route and account as a generation does (the stages are the
gateway's own, shared); then one whole answer from the first target that computes it. What differs is the
guard: a vector cannot be restored, so pseudonymization does not apply. A finding whose action would
pseudonymize keeps the request local instead (as keep_local does), and a block action blocks. Token ids are not
text the guard can read: a request carrying them stays local.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from enclave.config import DATA_CLASSES, DataClass
from enclave.engines.base import EmbeddingInput, Usage
from enclave.errors import EnclaveError, InvalidRequest
from enclave.guard.actions import Verdict

if TYPE_CHECKING:
    from enclave.gateway.pipeline import Gateway

ENDPOINT = "embeddings"
TOKEN_IDS = "TOKEN_IDS"  # the verdict's deciding "type" when token ids kept a request local
_CHARS_PER_TOKEN = 4  # a token id counts as this many characters for the policy's and the limits' estimates
_KEPT: DataClass = "confidential"  # the least class that never leaves the perimeter (config.NEVER_EXTERNAL)


@dataclass(frozen=True, slots=True)
class EmbeddingCall:
    model: str
    inputs: tuple[EmbeddingInput, ...]
    dimensions: int | None = None
    data_class: DataClass | None = None
    project: str | None = None  # only heeded without auth: a key's project is the key's own
    credential: str | None = None  # the API key as sent; never logged, never stored


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    """One vector per input, in input order (float32, unit length where the model normalises)."""

    model: str  # the model that answered, after any fallback
    vectors: np.ndarray
    prompt_tokens: int
    headers: dict[str, str]


def _local_verdict(verdict: Verdict, token_ids: bool) -> Verdict:
    """The verdict with pseudonymization turned into keep_local (at least confidential, which never leaves),
    and, when the request carries token ids the guard cannot read, restricted."""
    if verdict.masked:
        kept = max(verdict.data_class or _KEPT, _KEPT, key=DATA_CLASSES.index)
        action = "keep_local" if verdict.action == "pseudonymize" else verdict.action
        verdict = Verdict(action, verdict.deciding, kept)
    if token_ids:
        deciding = verdict.deciding if verdict.data_class == "restricted" else TOKEN_IDS
        verdict = dataclasses.replace(verdict, action="keep_local", deciding=deciding, data_class="restricted")
    return verdict


async def serve_embeddings(gateway: Gateway, call: EmbeddingCall) -> EmbeddingResult:
    """Run the pipeline for ``call``; every error is raised before anything is returned, and every outcome is
    counted, accounted and audited."""
    texts = [item for item in call.inputs if isinstance(item, str)]
    token_ids = len(texts) < len(call.inputs)
    ticket = gateway.ticket(ENDPOINT, call.model)
    ticket.prompt_chars = sum(map(len, texts)) + _CHARS_PER_TOKEN * sum(
        len(item) for item in call.inputs if not isinstance(item, str)
    )
    try:
        if not call.inputs:
            raise InvalidRequest("input must not be empty", param="input")
        await gateway.admit(ticket, call.model, call.credential, call.project, "embedding")
        ticket.report, verdict = await gateway.examine_texts(texts, ticket.project)
        guarded = gateway.guard is not None and gateway.guard.config.enabled
        ticket.verdict = verdict = _local_verdict(verdict, token_ids and guarded)
        facts = gateway.policy_facts(call.model, call.data_class, ticket, verdict)
        ticket.decision = decision = gateway.router.decide(facts)
        started = time.perf_counter()
        target, result, attempts = await gateway.dispatcher.embed(decision, call.inputs, call.dimensions)
    except EnclaveError as exc:
        status = exc.code or exc.type
        gateway.metrics.requests.labels(ticket.model, ENDPOINT, status).inc()
        gateway.accounting.close(ticket, status, None)
        raise
    gateway.routed(ticket, target, attempts)
    # An upstream does not say how long it computed: the time the call took stands for it.
    compute = result.compute_seconds if result.compute_seconds is not None else time.perf_counter() - started
    gateway.finish(ticket, "ok", Usage(result.prompt_tokens, 0, compute_seconds=compute))
    return EmbeddingResult(target.model, result.vectors, result.prompt_tokens, ticket.headers())
