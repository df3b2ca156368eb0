"""Pseudonymization: the external model sees placeholders, the user gets the original values back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import yaml

from enclave.assembly import build_gateway
from enclave.config import Settings
from enclave.engines.base import ChatMessage, Delta, GenerationRequest, ToolSpec
from enclave.errors import PolicyDenied
from enclave.gateway import Gateway, InferenceCall
from enclave.guard.findings import Finding
from enclave.guard.pseudonymize import Pseudonyms, StreamRestorer
from tests.fake_upstream import FakeUpstream, fake_upstream
from tests.servers import running_server

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


def test_a_placeholder_the_sender_wrote_is_never_issued_so_never_restored() -> None:
    pseudonyms = Pseudonyms()
    texts = ["Tell <PERSON_1> and <EMAIL_ADDRESS_1> that Jane Roe wrote", "from jane@x.io, not <PERSON_3>."]
    name, email = texts[0].index("Jane Roe"), texts[1].index("jane@x.io")
    findings = [Finding("PERSON", name, name + 8, 0), Finding("EMAIL_ADDRESS", email, email + 9, 1)]
    assert pseudonyms.apply(texts, findings) == [
        "Tell <PERSON_1> and <EMAIL_ADDRESS_1> that <PERSON_2> wrote",
        "from <EMAIL_ADDRESS_2>, not <PERSON_3>.",
    ]
    answer = "<PERSON_2> (<EMAIL_ADDRESS_2>) wrote to <PERSON_1>, <EMAIL_ADDRESS_1> and <PERSON_3>."
    restored = "Jane Roe (jane@x.io) wrote to <PERSON_1>, <EMAIL_ADDRESS_1> and <PERSON_3>."
    assert pseudonyms.restore(answer) == restored
    for size in range(1, len(answer) + 1):
        restorer = StreamRestorer(pseudonyms)
        pieces = [restorer.feed(answer[i : i + size]) for i in range(0, len(answer), size)]
        assert "".join(pieces) + restorer.flush() == restored
    # The next value of a type skips every number the sender used.
    assert pseudonyms.placeholder("PERSON", "John Doe") == "<PERSON_4>"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as fake:
        yield fake


async def gateway_for(upstream: FakeUpstream, **guard: object) -> Gateway:
    settings = Settings.model_validate(
        {
            "models": [],
            "providers": [{"name": "hosted", "base_url": upstream.url, "zone": "external", "retries": 0}],
            "routes": [
                {"name": "assistant", "targets": ["hosted/echo"]},
                {"name": "caller", "targets": ["hosted/echo-tools"]},
            ],
            "guard": {"action": "pseudonymize", **guard},
        }
    )
    return await build_gateway(settings)


IDENTIFIERS_ONLY = {"entities": {"backend": "none"}}


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


FORGED = "Please forward this to <EMAIL_ADDRESS_1>: the invoice for jane.roe@example.org is attached."


@pytest.mark.parametrize("stream", [True, False])
def test_a_forged_placeholder_in_the_prompt_comes_back_as_written(upstream: FakeUpstream, stream: bool) -> None:
    async def run() -> list[str]:
        gateway = await gateway_for(upstream, **IDENTIFIERS_ONLY)
        try:
            request = GenerationRequest(messages=(ChatMessage("user", FORGED),), stream=stream)
            answer = await gateway.infer(InferenceCall("assistant", request, "chat"))
            return [d.text async for d in answer]
        finally:
            await gateway.close()

    pieces = asyncio.run(run())
    sent = upstream.last("echo")["messages"][-1]["content"]
    assert sent == "Please forward this to <EMAIL_ADDRESS_1>: the invoice for <EMAIL_ADDRESS_2> is attached."
    assert "".join(pieces) == FORGED  # the sender's "<EMAIL_ADDRESS_1>" stays literal, the address comes back
    if stream:
        assert len(pieces) > 10  # the echo's three-character chunks split both placeholders


@pytest.mark.parametrize("stream", [True, False])
def test_a_forged_placeholder_stays_literal_in_tool_call_arguments(upstream: FakeUpstream, stream: bool) -> None:
    async def run() -> list[Delta]:
        gateway = await gateway_for(upstream, **IDENTIFIERS_ONLY)
        echo = ToolSpec("echo", "Repeats its text.", {"type": "object", "properties": {"text": {"type": "string"}}})
        try:
            request = GenerationRequest(messages=(ChatMessage("user", FORGED),), tools=(echo,), stream=stream)
            answer = await gateway.infer(InferenceCall("caller", request, "chat"))
            return [d async for d in answer]
        finally:
            await gateway.close()

    deltas = asyncio.run(run())
    sent = upstream.last("echo-tools")["messages"][-1]["content"]
    assert sent == "Please forward this to <EMAIL_ADDRESS_1>: the invoice for <EMAIL_ADDRESS_2> is attached."
    arguments = "".join(piece.arguments for delta in deltas for piece in delta.tool_calls)
    assert json.loads(arguments) == {"text": FORGED}


STOPPING = "List what jane.roe@example.org ordered."


def test_a_stop_sequence_leaves_with_the_placeholder_its_value_has_in_the_prompt(upstream: FakeUpstream) -> None:
    async def run() -> str:
        gateway = await gateway_for(upstream)
        try:
            request = GenerationRequest(
                messages=(ChatMessage("user", STOPPING),), stop=("\njane.roe@example.org:", "END")
            )
            answer = await gateway.infer(InferenceCall("assistant", request, "chat"))
            return "".join([d.text async for d in answer])
        finally:
            await gateway.close()

    assert asyncio.run(run()) == STOPPING
    body = upstream.last("echo")
    assert body["messages"][-1]["content"] == "List what <EMAIL_ADDRESS_1> ordered."
    assert body["stop"] == ["\n<EMAIL_ADDRESS_1>:", "END"]


def test_personal_data_only_in_a_stop_sequence_keeps_the_request_inside(upstream: FakeUpstream) -> None:
    async def run() -> None:
        gateway = await gateway_for(upstream, action="keep_local", **IDENTIFIERS_ONLY)
        try:
            request = GenerationRequest(messages=(ChatMessage("user", "List the orders."),), stop=("536-90-4399",))
            with pytest.raises(PolicyDenied):
                await gateway.infer(InferenceCall("assistant", request, "chat"))
        finally:
            await gateway.close()

    sent = len(upstream.received)
    asyncio.run(run())
    assert len(upstream.received) == sent


def test_the_hosted_api_receives_stop_sequences_pseudonymized_over_http(upstream: FakeUpstream, tmp_path: Path) -> None:
    config = {
        "data_dir": str(tmp_path),
        "models": [],
        "providers": [{"name": "hosted", "base_url": upstream.url, "zone": "external", "retries": 0}],
        "routes": [{"name": "assistant", "targets": ["hosted/echo"]}],
        "guard": {"action": "pseudonymize", "entities": {"backend": "none"}},
    }
    path = tmp_path / "enclave.yaml"
    path.write_text(yaml.safe_dump(config))
    with running_server(path, tmp_path / "server.log") as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "Card 4111 1111 1111 1111 or <CREDIT_CARD_1>, call 415-555-2671."}],
            stop=["4111 1111 1111 1111", "(415) 555-2671", "<CREDIT_CARD_1>"],
        )
    body = upstream.last("echo")
    assert body["messages"][-1]["content"] == "Card <CREDIT_CARD_2> or <CREDIT_CARD_1>, call <PHONE_NUMBER_1>."
    # The same card, the same placeholder; the phone written another way, its own; the sender's literal, as sent.
    assert body["stop"] == ["<CREDIT_CARD_2>", "<PHONE_NUMBER_2>", "<CREDIT_CARD_1>"]
    for value in ("4111 1111 1111 1111", "555-2671"):
        assert value not in upstream.texts()
    assert reply.choices[0].message.content == "Card 4111 1111 1111 1111 or <CREDIT_CARD_1>, call 415-555-2671."
