"""The guard on tool calling: tool definitions, call arguments and tool results are scanned like message text;
what an external model is sent carries placeholders (JSON staying JSON), and the tool calls it answers with get
the values back, also when a placeholder arrives split across stream chunks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import openai
import pytest
import yaml

from enclave.assembly import build_gateway
from enclave.config import GuardConfig, Settings
from enclave.engines.base import ChatMessage, Delta, GenerationRequest, ToolCall, ToolSpec
from enclave.errors import PolicyDenied
from enclave.gateway import Gateway, InferenceCall
from enclave.guard.findings import Finding
from enclave.guard.pseudonymize import Pseudonyms, StreamRestorer
from enclave.guard.scanner import Guard
from enclave.guard.texts import texts_of, with_texts
from tests.fake_upstream import FakeUpstream, fake_upstream
from tests.servers import running_server

EMAIL, CARD, SSN, BOSS = "jane.roe@example.org", "4111 1111 1111 1111", "536-90-4399", "boss@example.com"
GUARD = Guard(GuardConfig(entities={"backend": "none"}))

SEND_EMAIL = ToolSpec(
    "send_email",
    f"Sends an e-mail; a copy goes to {BOSS}.",
    {
        "type": "object",
        "properties": {
            "to": {"type": "string", "description": f"for example {BOSS}"},
            "type": {"type": "string", "enum": ["plain", "html"]},
        },
        "required": ["to", "type"],
        "additionalProperties": False,
    },
)


def conversation(
    result: str = f"Sent. Card on file: {CARD}.", arguments: dict[str, object] | None = None
) -> tuple[ChatMessage, ...]:
    arguments = arguments or {"to": EMAIL, "type": "plain", "phone": 4155552671}
    call = ToolCall("call_1", "send_email", json.dumps(arguments))
    return (
        ChatMessage("user", "Mail the summary please."),
        ChatMessage("assistant", "", (call,)),
        ChatMessage("tool", result, tool_call_id="call_1"),
    )


def test_definitions_arguments_and_results_are_scanned() -> None:
    request = GenerationRequest(messages=conversation(), tools=(SEND_EMAIL,))
    report = GUARD.inspect(request)
    assert report.counts == {"EMAIL_ADDRESS": 3, "CREDIT_CARD": 1, "PHONE_NUMBER": 1}
    assert report.data_class == "restricted"


def test_a_tool_result_raises_the_data_class_as_a_user_message_does() -> None:
    as_result = GUARD.inspect(GenerationRequest(messages=conversation(f"SSN {SSN}", {"to": "the team"})))
    as_user = GUARD.inspect(GenerationRequest(messages=(ChatMessage("user", f"SSN {SSN}"),)))
    assert as_result.data_class == as_user.data_class == "confidential"
    assert as_result.counts == as_user.counts == {"US_SSN": 1}


def test_placeholders_land_inside_json_strings_and_leave_the_schema_whole() -> None:
    request = GenerationRequest(messages=conversation(), tools=(SEND_EMAIL,), passthrough={"user": EMAIL})
    report = GUARD.inspect(request)
    pseudonyms = Pseudonyms()
    masked = with_texts(request, pseudonyms.apply(texts_of(request), report.findings))
    (call,) = masked.messages[1].tool_calls
    assert json.loads(call.arguments) == {"to": "<EMAIL_ADDRESS_1>", "type": "plain", "phone": "<PHONE_NUMBER_1>"}
    assert masked.messages[2].content == "Sent. Card on file: <CREDIT_CARD_1>."
    (tool,) = masked.tools
    assert tool.description == "Sends an e-mail; a copy goes to <EMAIL_ADDRESS_2>."
    assert tool.parameters["properties"]["to"]["description"] == "for example <EMAIL_ADDRESS_2>"
    assert tool.parameters["required"] == ["to", "type"] and tool.parameters["properties"]["type"]["type"] == "string"
    assert masked.passthrough == {"user": "<EMAIL_ADDRESS_1>"}
    for value in (EMAIL, CARD, BOSS, "4155552671"):
        assert value not in repr(masked)
    # Nothing found, nothing rebuilt.
    plain = GenerationRequest(messages=(ChatMessage("user", "hello"),), tools=(SEND_EMAIL,))
    assert with_texts(plain, texts_of(plain)) is plain


def test_restoring_json_escapes_values_in_any_chunking() -> None:
    pseudonyms = Pseudonyms()
    address = 'Flat 2, "The Mews"\n12 High Street'
    pseudonyms.apply([address], [Finding("ADDRESS", 0, len(address))])
    arguments = json.dumps({"deliver_to": "<ADDRESS_1>", "note": "ring twice"})
    for size in range(1, len(arguments) + 1):
        restorer = StreamRestorer(pseudonyms, in_json=True)
        pieces = [restorer.feed(arguments[i : i + size]) for i in range(0, len(arguments), size)]
        assert json.loads("".join(pieces) + restorer.flush()) == {"deliver_to": address, "note": "ring twice"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as fake:
        yield fake


async def gateway_for(upstream: FakeUpstream, action: str = "pseudonymize") -> Gateway:
    settings = Settings.model_validate(
        {
            "models": [],
            "providers": [{"name": "hosted", "base_url": upstream.url, "zone": "external", "retries": 0}],
            "routes": [
                {"name": "assistant", "targets": ["hosted/ok"]},
                {"name": "caller", "targets": ["hosted/echo-tools"]},
            ],
            "guard": {"action": action, "entities": {"backend": "none"}},
        }
    )
    return await build_gateway(settings)


def ask(upstream: FakeUpstream, model: str, request: GenerationRequest, action: str = "pseudonymize") -> list[Delta]:
    async def run() -> list[Delta]:
        gateway = await gateway_for(upstream, action)
        try:
            answer = await gateway.infer(InferenceCall(model, request, "chat"))
            return [delta async for delta in answer]
        finally:
            await gateway.close()

    return asyncio.run(run())


@pytest.mark.parametrize("stream", [True, False])
def test_what_leaves_carries_placeholders_in_arguments_results_and_definitions(
    upstream: FakeUpstream, stream: bool
) -> None:
    ask(upstream, "assistant", GenerationRequest(messages=conversation(), tools=(SEND_EMAIL,), stream=stream))
    body = upstream.last("ok")
    for value in (EMAIL, CARD, BOSS, "4155552671"):
        assert value not in json.dumps(body)
    arguments = json.loads(body["messages"][1]["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"to": "<EMAIL_ADDRESS_1>", "type": "plain", "phone": "<PHONE_NUMBER_1>"}
    assert body["messages"][2] == {
        "role": "tool",
        "content": "Sent. Card on file: <CREDIT_CARD_1>.",
        "tool_call_id": "call_1",
    }
    function = body["tools"][0]["function"]
    assert function["description"] == "Sends an e-mail; a copy goes to <EMAIL_ADDRESS_2>."
    assert function["parameters"]["required"] == ["to", "type"]


@pytest.mark.parametrize("stream", [True, False])
def test_tool_call_arguments_are_restored_even_split_across_chunks(upstream: FakeUpstream, stream: bool) -> None:
    text = f"Write to {EMAIL} about card {CARD}; cc {EMAIL}."
    echo = ToolSpec("echo", "Repeats its text.", {"type": "object", "properties": {"text": {"type": "string"}}})
    request = GenerationRequest(messages=(ChatMessage("user", text),), tools=(echo,), stream=stream)
    deltas = ask(upstream, "caller", request)
    sent = upstream.last("echo-tools")["messages"][0]["content"]
    assert sent == "Write to <EMAIL_ADDRESS_1> about card <CREDIT_CARD_1>; cc <EMAIL_ADDRESS_1>."
    pieces = [piece for delta in deltas for piece in delta.tool_calls]
    assert [p.name for p in pieces if p.name] == ["echo"]
    arguments = "".join(p.arguments for p in pieces)
    assert json.loads(arguments) == {"text": text}
    assert deltas[-1].finish_reason == "tool_calls"
    if stream:
        # Fragments of four characters: placeholders arrived split, and the answer still streamed in pieces.
        assert len([p for p in pieces if p.arguments]) > 5


def test_a_tool_result_with_personal_data_keeps_the_request_inside(upstream: FakeUpstream) -> None:
    sent = len(upstream.received)
    with pytest.raises(PolicyDenied):
        ask(
            upstream,
            "assistant",
            GenerationRequest(messages=conversation(f"SSN {SSN}", {"to": "the team"})),
            action="keep_local",
        )
    assert len(upstream.received) == sent
    ask(
        upstream,
        "assistant",
        GenerationRequest(messages=(ChatMessage("user", "Mail the summary please."),)),
        action="keep_local",
    )
    assert len(upstream.received) == sent + 1


def test_the_openai_sdk_gets_restored_arguments_from_a_stream(upstream: FakeUpstream, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = {
        "data_dir": str(tmp_path),
        "models": [],
        "providers": [{"name": "hosted", "base_url": upstream.url, "zone": "external", "retries": 0}],
        "routes": [{"name": "caller", "targets": ["hosted/echo-tools"]}],
        "guard": {"action": "pseudonymize", "entities": {"backend": "none"}},
    }
    path = tmp_path / "enclave.yaml"
    path.write_text(yaml.safe_dump(config))
    text = f"Card {CARD}, mail {EMAIL}."
    with running_server(path, tmp_path / "server.log") as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        tool = {
            "type": "function",
            "function": {
                "name": "echo",
                "parameters": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                    "additionalProperties": False,
                },
                "strict": True,
            },
        }
        with client.chat.completions.stream(
            model="caller", messages=[{"role": "user", "content": text}], tools=[tool]
        ) as stream:
            fragments = [e.arguments_delta for e in stream if e.type == "tool_calls.function.arguments.delta"]
            final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert call.function.parsed_arguments == {"text": text}
    assert "".join(fragments) == call.function.arguments
    assert final.choices[0].finish_reason == "tool_calls"
