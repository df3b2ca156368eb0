"""Streams that break or stall after their first token are finished by the next allowed target, or end with a
visible error; never with spliced text. And the upstream faults short of that: a missing [DONE], a malformed
event, a slow start, a long pause, a refusal's code, retries and the circuit breaker.

The gateway runs in-process (the pipeline object, no HTTP) in front of the stand-in upstream, which records what
each target was sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from enclave.assembly import build_gateway
from enclave.config import ProviderConfig, Settings, Timeouts
from enclave.engines.base import ChatMessage, Delta, GenerationRequest, SamplingParams
from enclave.engines.upstream import UpstreamEngine, UpstreamProvider
from enclave.errors import EnclaveError, InvalidRequest, UpstreamTimeout
from enclave.gateway import Gateway
from enclave.gateway.pipeline import InferenceCall
from enclave.store.db import open_engine
from enclave.store.schema import usage
from tests.audits import last_audit
from tests.fake_upstream import OTHER_REPLY, REPLY, USAGE, FakeUpstream, fake_upstream

FIRST_TWO = "Hello from "  # what midstream, stall and refuse-midstream send before their fault
QUESTION = (ChatMessage("user", "Say hello."),)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as upstream:
        yield upstream


def routes(**targets: list[str]) -> list[dict[str, Any]]:
    return [{"name": name.replace("_", "-"), "targets": chain} for name, chain in targets.items()]


def gateway_settings(fake: FakeUpstream, directory: Path, **extra: Any) -> Settings:
    # idle is what ends a stalled stream: small, yet far above the stand-in's gaps between chunks.
    timeouts = {"connect": 2, "first_token": 10, "idle": 2}
    provider = {"base_url": fake.url, "zone": "external", "retries": 0, "timeouts": timeouts}
    return Settings.model_validate(
        {
            "data_dir": str(directory),
            "models": [],
            "providers": [
                {"name": "hosted", **provider},
                {"name": "twin", **provider, "capabilities": {"assistant_prefill": True}},
            ],
            "routes": routes(
                break_then_ok=["hosted/midstream", "hosted/ok"],
                stall_then_ok=["hosted/stall", "hosted/ok.stall"],
                break_then_other=["hosted/midstream.other", "hosted/other"],
                break_then_prefill=["hosted/midstream.prefill", "twin/continue"],
                break_n=["hosted/midstream.n", "hosted/ok.n"],
                break_alone=["hosted/midstream.alone"],
                refused_midstream=["hosted/refuse-midstream", "hosted/ok.refused"],
                refused=["hosted/refuse", "hosted/ok.refused"],
            ),
            "prices": {
                "tokens": {"hosted/midstream": {"input": 1, "output": 2}, "hosted/ok": {"input": 10, "output": 20}}
            },
            **extra,
        }
    )


@dataclass
class Outcome:
    deltas: list[Delta]
    error: EnclaveError | None
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return "".join(d.text for d in self.deltas)


def ask(settings: Settings, model: str, **fields: Any) -> tuple[Outcome, Gateway]:
    """One request through the pipeline, read to its end; the gateway is closed (its rows written) after."""

    async def run() -> tuple[Outcome, Gateway]:
        gateway = await build_gateway(settings)
        try:
            request = GenerationRequest(messages=QUESTION, max_tokens=16, **fields)
            answer = await gateway.infer(InferenceCall(model, request, "chat"))
            deltas: list[Delta] = []
            try:
                async for delta in answer:
                    deltas.append(delta)
            except EnclaveError as exc:
                return Outcome(deltas, exc, answer.headers), gateway
            return Outcome(deltas, None, answer.headers), gateway
        finally:
            await gateway.close()

    return asyncio.run(run())


def ledger(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last usage row and the details of the last inference audit entry."""
    engine = open_engine(f"sqlite:///{settings.data_dir / 'enclave.db'}")
    with engine.connect() as connection:
        row = connection.execute(select(usage).order_by(usage.c.id.desc()).limit(1)).mappings().one()
    engine.dispose()
    return dict(row), last_audit(settings)


def circuit(gateway: Gateway, model: str) -> dict[str, Any]:
    """The circuit breaker of the target hosted/``model``, as /health shows it."""
    targets = cast(dict[str, dict[str, Any]], gateway.dispatcher.health()["hosted"]["targets"])
    return targets[model]


# --- rescue -------------------------------------------------------------------------------------------------


def test_a_stream_broken_after_its_first_token_is_finished_by_the_next_target(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    settings = gateway_settings(fake, tmp_path)
    outcome, gateway = ask(settings, "break-then-ok")
    assert outcome.error is None
    assert outcome.text == REPLY  # the rescuer's regenerated prefix was matched and skipped, not repeated
    assert outcome.deltas[-1].finish_reason == "stop"
    assert fake.last("ok")["messages"] == fake.last("midstream")["messages"]  # the same request, from the start
    # Both targets are accounted: the broken one for its part (estimated), the rescuer for its whole answer.
    row, details = ledger(settings)
    assert row["status"] == "ok" and row["target"] == "hosted/ok"
    assert row["completion_tokens"] == 2 + USAGE["completion_tokens"]
    assert [(leg["target"], leg["outcome"]) for leg in details["legs"]] == [
        ("hosted/midstream", "upstream_error"),
        ("hosted/ok", "ok"),
    ]
    prompt = details["legs"][0]["tokens"][0]
    assert row["cost"] == pytest.approx(
        (prompt * 1 + 2 * 2 + USAGE["prompt_tokens"] * 10 + USAGE["completion_tokens"] * 20) / 1e6
    )
    # The break still counts against the broken target's health, once.
    assert circuit(gateway, "midstream")["consecutive_failures"] == 1


def test_a_stream_that_stalls_after_its_first_token_is_finished_by_the_next_target(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    outcome, _ = ask(gateway_settings(fake, tmp_path), "stall-then-ok")
    assert outcome.error is None and outcome.text == REPLY


def test_a_rescuer_whose_text_differs_ends_the_stream_with_the_error(fake: FakeUpstream, tmp_path: Path) -> None:
    outcome, _ = ask(gateway_settings(fake, tmp_path), "break-then-other")
    assert fake.count("other") >= 1  # it was asked
    assert outcome.text == FIRST_TWO  # nothing of its text was spliced on
    assert not any(d.finish_reason for d in outcome.deltas)
    assert outcome.error is not None and outcome.error.code == "upstream_error"
    assert "broke off" in outcome.error.message and "differs" in outcome.error.message
    assert OTHER_REPLY[:5] not in outcome.text


def test_a_target_declaring_prefill_continues_the_text_already_sent(fake: FakeUpstream, tmp_path: Path) -> None:
    outcome, _ = ask(gateway_settings(fake, tmp_path), "break-then-prefill")
    assert outcome.error is None and outcome.text == REPLY
    sent = fake.last("continue")
    assert sent["messages"][-1] == {"role": "assistant", "content": FIRST_TWO}
    assert sent["max_tokens"] == 16 - 2  # only what is left of the allowance


def test_a_stream_of_several_choices_is_not_rescued(fake: FakeUpstream, tmp_path: Path) -> None:
    outcome, _ = ask(gateway_settings(fake, tmp_path), "break-n", n=2)
    assert outcome.error is not None and "broke off" in outcome.error.message
    assert fake.count("ok.n") == 0


def test_without_another_target_the_stream_ends_with_the_error(fake: FakeUpstream, tmp_path: Path) -> None:
    outcome, _ = ask(gateway_settings(fake, tmp_path), "break-alone")
    assert outcome.text == FIRST_TWO and outcome.error is not None
    assert "no other target could take over" in outcome.error.message


def test_a_refusal_mid_stream_keeps_its_code_and_is_not_rescued(fake: FakeUpstream, tmp_path: Path) -> None:
    before = fake.count("ok.refused")
    outcome, gateway = ask(gateway_settings(fake, tmp_path), "refused-midstream")
    assert isinstance(outcome.error, InvalidRequest)
    assert outcome.error.code == "content_policy_violation" and "content filter" in outcome.error.message
    assert fake.count("ok.refused") == before
    assert circuit(gateway, "refuse-midstream")["consecutive_failures"] == 0


def test_a_refusal_before_the_answer_keeps_the_upstreams_code(fake: FakeUpstream, tmp_path: Path) -> None:
    async def run() -> None:
        gateway = await build_gateway(gateway_settings(fake, tmp_path))
        try:
            with pytest.raises(InvalidRequest) as refused:
                await gateway.infer(InferenceCall("refused", GenerationRequest(messages=QUESTION), "chat"))
        finally:
            await gateway.close()
        assert refused.value.code == "content_policy_violation" and refused.value.status == 400
        assert "rejected by the safety system" in refused.value.message

    before = fake.count("ok.refused")
    asyncio.run(run())
    assert fake.count("ok.refused") == before  # a refusal is passed back, never failed over


def test_retries_of_one_request_count_once_toward_the_circuit(fake: FakeUpstream, tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path),
            "models": [],
            "providers": [
                {
                    "name": "hosted",
                    "base_url": fake.url,
                    "zone": "external",
                    "retries": 2,
                    "backoff": 0,
                    "circuit": {"failures": 2, "cooldown": 60},
                }
            ],
            "routes": [{"name": "failing", "targets": ["hosted/fail500.once"]}],
        }
    )

    async def run() -> dict[str, Any]:
        gateway = await build_gateway(settings)
        try:
            with pytest.raises(EnclaveError):
                await gateway.infer(InferenceCall("failing", GenerationRequest(messages=QUESTION), "chat"))
            return circuit(gateway, "fail500.once")
        finally:
            await gateway.close()

    state = asyncio.run(run())
    assert fake.count("fail500.once") == 3  # a try and two retries
    assert state["consecutive_failures"] == 1 and state["state"] == "closed"


# --- the upstream engine's faults short of a rescue -----------------------------------------------------------


def generate(
    fake: FakeUpstream, model: str, stream: bool = True, **timeouts: float
) -> tuple[list[Delta], UpstreamEngine]:
    async def run() -> tuple[list[Delta], UpstreamEngine]:
        config = ProviderConfig(name="hosted", base_url=fake.url, zone="external", timeouts=Timeouts(**timeouts))
        engine = UpstreamEngine(UpstreamProvider(config), model, f"hosted/{model}")
        try:
            request = GenerationRequest(messages=QUESTION, stream=stream, sampling=SamplingParams(temperature=0))
            return [delta async for delta in await engine.submit(request)], engine
        finally:
            await engine.close()

    return asyncio.run(run())


def test_a_stream_that_ends_without_done_after_its_finish_and_usage_is_complete(fake: FakeUpstream) -> None:
    deltas, _ = generate(fake, "no-done")
    assert "".join(d.text for d in deltas) == REPLY
    assert deltas[-1].finish_reason == "stop"
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens == USAGE["completion_tokens"]


def test_one_malformed_event_is_skipped_and_counted(fake: FakeUpstream, tmp_path: Path) -> None:
    deltas, engine = generate(fake, "malformed")
    assert "".join(d.text for d in deltas) == REPLY and deltas[-1].finish_reason == "stop"
    assert engine.stats()["malformed_events"] == 1

    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path),
            "models": [],
            "providers": [{"name": "hosted", "base_url": fake.url, "zone": "external"}],
            "routes": [{"name": "odd", "targets": ["hosted/malformed.metric"]}],
        }
    )

    async def run() -> str:
        gateway = await build_gateway(settings)
        try:
            answer = await gateway.infer(InferenceCall("odd", GenerationRequest(messages=QUESTION), "chat"))
            assert "".join([d.text async for d in answer]) == REPLY
            return gateway.metrics.render().decode()
        finally:
            await gateway.close()

    assert 'enclave_upstream_malformed_events_total{model="hosted/malformed.metric"} 1.0' in asyncio.run(run())


def test_idle_bounds_the_gaps_of_a_stream_not_first_token(fake: FakeUpstream) -> None:
    # A pause twice as long as first_token, well inside idle: the stream goes on.
    fake.delay = 3.0
    deltas, _ = generate(fake, "pause", first_token=1.5, idle=30)
    assert "".join(d.text for d in deltas) == REPLY


def test_first_token_counts_from_the_request_not_from_the_headers(fake: FakeUpstream) -> None:
    # Headers after 1 s, the first token 1 s later: each gap is inside first_token, their sum is not.
    fake.delay = 1.0
    with pytest.raises(UpstreamTimeout, match=r"within 1\.5 s of the request"):
        generate(fake, "slow-start", first_token=1.5, idle=30)


def test_a_whole_answer_has_an_overall_deadline(fake: FakeUpstream) -> None:
    # The stand-in sends a byte every 0.1 s for a minute: no read ever waits long, the answer never comes.
    with pytest.raises(UpstreamTimeout, match="did not answer within 1 s"):
        generate(fake, "trickle", stream=False, total=1, first_token=30)
