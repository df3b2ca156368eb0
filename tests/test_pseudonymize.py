"""Pseudonymization: the external model sees placeholders, the user gets the original values back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from enclave.api.app import build_gateway
from enclave.config import Settings
from enclave.engines.base import ChatMessage, GenerationRequest
from enclave.errors import PolicyDenied
from enclave.gateway import Gateway, InferenceCall
from enclave.guard.findings import Finding
from enclave.guard.pseudonymize import Pseudonyms, StreamRestorer
from tests.fake_upstream import FakeUpstream, fake_upstream

EMAIL, CARD, SSN = "jane.roe@example.org", "4111 1111 1111 1111", "536-90-4399"
TEXT = f"Write to {EMAIL} about card {CARD}; cc {EMAIL}. Her SSN is {SSN}."


def test_same_value_same_placeholder_and_restore_in_any_chunking() -> None:
    pseudonyms = Pseudonyms()
    text = "a@x.io and b@x.io and a@x.io"
    findings = [Finding("EMAIL_ADDRESS", 0, 6), Finding("EMAIL_ADDRESS", 11, 17), Finding("EMAIL_ADDRESS", 22, 28)]
    (masked,) = pseudonyms.apply([text], findings)
    assert masked == "<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2> and <EMAIL_ADDRESS_1>"
    for size in range(1, len(masked) + 1):
        restorer = StreamRestorer(pseudonyms)
        pieces = [restorer.feed(masked[i : i + size]) for i in range(0, len(masked), size)]
        assert "".join(pieces) + restorer.flush() == text


def test_restorer_holds_back_only_what_could_be_a_placeholder() -> None:
    pseudonyms = Pseudonyms()
    pseudonyms.apply(["x@y.io"], [Finding("EMAIL_ADDRESS", 0, 6)])
    restorer = StreamRestorer(pseudonyms)
    assert restorer.feed("Mail <EMAIL_") == "Mail "
    assert restorer.feed("ADDRESS_1> now") == "x@y.io now"
    assert restorer.feed("a < b and c <d> ") == "a < b and c <d> "
    assert restorer.feed("<UNKNOWN_9>") == "<UNKNOWN_9>"  # not ours: left as the model wrote it


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as fake:
        yield fake


async def gateway_for(upstream: FakeUpstream) -> Gateway:
    settings = Settings.model_validate(
        {
            "models": [],
            "providers": [{"name": "hosted", "base_url": upstream.url, "zone": "external", "retries": 0}],
            "routes": [{"name": "assistant", "targets": ["hosted/echo"]}],
            "guard": {"action": "pseudonymize"},
        }
    )
    return await build_gateway(settings)


@pytest.mark.parametrize("stream", [True, False])
def test_round_trip_through_an_external_model(upstream: FakeUpstream, stream: bool) -> None:
    async def run() -> tuple[list[str], dict[str, str]]:
        gateway = await gateway_for(upstream)
        try:
            request = GenerationRequest(messages=(ChatMessage("user", TEXT),), stream=stream)
            answer = await gateway.infer(InferenceCall("assistant", request, "chat"))
            return [d.text async for d in answer], answer.headers
        finally:
            await gateway.close()

    pieces, headers = asyncio.run(run())
    received = upstream.received[-1].body["messages"][-1]["content"]
    assert received == (
        "Write to <EMAIL_ADDRESS_1> about card <CREDIT_CARD_1>; cc <EMAIL_ADDRESS_1>. Her SSN is <US_SSN_1>."
    )
    for value in (EMAIL, CARD, SSN):
        assert value not in upstream.texts()
    assert "".join(pieces) == TEXT
    assert headers["x-enclave-route"] == "hosted/echo"
    assert headers["x-enclave-guard"] == "CREDIT_CARD=1, EMAIL_ADDRESS=2, US_SSN=1"
    if stream:
        assert len(pieces) > 10  # still streamed chunk by chunk, not buffered whole


def test_declared_restricted_data_still_never_leaves_even_pseudonymized(upstream: FakeUpstream) -> None:
    async def run() -> None:
        gateway = await gateway_for(upstream)
        try:
            request = GenerationRequest(messages=(ChatMessage("user", TEXT),))
            with pytest.raises(PolicyDenied):
                await gateway.infer(InferenceCall("assistant", request, "chat", data_class="restricted"))
        finally:
            await gateway.close()

    sent = len(upstream.received)
    asyncio.run(run())
    assert len(upstream.received) == sent


def test_a_guard_that_fails_keeps_the_request_inside(upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    async def run() -> None:
        gateway = await gateway_for(upstream)

        async def broken(request: GenerationRequest) -> None:
            raise RuntimeError("recognizer crashed")

        monkeypatch.setattr(gateway.guard, "inspect_async", broken)
        try:
            request = GenerationRequest(messages=(ChatMessage("user", "anything at all"),))
            with pytest.raises(PolicyDenied):
                await gateway.infer(InferenceCall("assistant", request, "chat"))
        finally:
            await gateway.close()

    sent = len(upstream.received)
    asyncio.run(run())
    assert len(upstream.received) == sent
