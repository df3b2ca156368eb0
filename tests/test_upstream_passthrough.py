"""Hosted targets get what the client asked for, and the client gets what they answered, unchanged.

The stand-in upstream records every body it receives, so each test asserts on exactly what left; the answers
are read as the gateway reads them, as deltas from the upstream engine.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import yaml

from enclave.config import ProviderConfig
from enclave.engines.base import (
    ChatMessage,
    Delta,
    GenerationRequest,
    ResponseFormat,
    SamplingParams,
    ToolCall,
    ToolSpec,
)
from enclave.engines.upstream import UpstreamEngine, UpstreamProvider
from tests.fake_upstream import JSON_REPLY, REFUSAL, REPLY, TOOL_CALLS, USAGE, FakeUpstream, fake_upstream
from tests.servers import running_server

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False},
    strict=True,
)
TIME = ToolSpec("get_time", None, {"type": "object", "properties": {"zone": {"type": "string"}}})
ROUND_TRIP = (
    ChatMessage("system", "You answer with tools."),
    ChatMessage("user", "Weather in Paris?"),
    ChatMessage("assistant", "", tool_calls=(ToolCall("call_9", "get_weather", '{"city": "Paris"}'),)),
    ChatMessage("tool", '{"celsius": 21}', tool_call_id="call_9"),
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as upstream:
        yield upstream


def generate(fake: FakeUpstream, model: str, request: GenerationRequest) -> list[Delta]:
    """Every delta of one answer from the upstream engine serving ``model``."""

    async def run() -> list[Delta]:
        provider = UpstreamProvider(ProviderConfig(name="hosted", base_url=fake.url, zone="external"))
        engine = UpstreamEngine(provider, model, f"hosted/{model}")
        try:
            generation = await engine.submit(request)
            return [delta async for delta in generation]
        finally:
            await engine.close()

    return asyncio.run(run())


def chat(*messages: ChatMessage, **fields: Any) -> GenerationRequest:
    return GenerationRequest(messages=messages or (ChatMessage("user", "Hi"),), **fields)


@pytest.mark.parametrize("stream", [True, False])
def test_tools_and_the_tool_round_trip_reach_the_upstream_unchanged(fake: FakeUpstream, stream: bool) -> None:
    request = chat(
        *ROUND_TRIP,
        tools=(WEATHER, TIME),
        tool_choice="get_weather",
        parallel_tool_calls=False,
        sampling=SamplingParams(seed=7, temperature=0),
        stream=stream,
    )
    generate(fake, "ok", request)
    body = fake.last("ok")
    assert body["messages"] == [
        {"role": "system", "content": "You answer with tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": '{"celsius": 21}', "tool_call_id": "call_9"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER.parameters,
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "get_time", "parameters": TIME.parameters}},
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert body["seed"] == 7 and body["temperature"] == 0
    assert body["stream"] is stream


@pytest.mark.parametrize("choice", ["none", "required"])
def test_string_tool_choices_pass_as_strings(fake: FakeUpstream, choice: str) -> None:
    generate(fake, "ok", chat(tools=(WEATHER,), tool_choice=choice))
    body = fake.last("ok")
    assert body["tool_choice"] == choice
    assert "parallel_tool_calls" not in body  # OpenAI's default is left unsaid


def test_without_tools_no_tool_fields_are_sent(fake: FakeUpstream) -> None:
    generate(fake, "ok", chat())
    assert not {"tools", "tool_choice", "parallel_tool_calls", "response_format", "n", "logprobs"} & set(
        fake.last("ok")
    )


@pytest.mark.parametrize(
    ("response_format", "sent"),
    [
        (ResponseFormat("json_object"), {"type": "json_object"}),
        (
            ResponseFormat(
                "json_schema", {"type": "object", "properties": {"city": {"type": "string"}}}, "place", True
            ),
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "place",
                    "strict": True,
                    "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            },
        ),
    ],
)
def test_response_formats_reach_the_upstream_and_json_comes_back(
    fake: FakeUpstream, response_format: ResponseFormat, sent: dict[str, Any]
) -> None:
    deltas = generate(fake, "ok", chat(response_format=response_format))
    assert fake.last("ok")["response_format"] == sent
    assert json.loads("".join(d.text for d in deltas)) == json.loads(JSON_REPLY)


def test_n_logprobs_seed_and_other_fields_reach_the_upstream(fake: FakeUpstream) -> None:
    passthrough = {
        "user": "user-42",
        "metadata": {"app": "crm"},
        "service_tier": "auto",
        "store": False,
        "stream_options": {"include_obfuscation": False},
    }
    generate(
        fake, "ok", chat(n=2, logprobs=True, top_logprobs=3, sampling=SamplingParams(seed=1), passthrough=passthrough)
    )
    body = fake.last("ok")
    assert (body["n"], body["logprobs"], body["top_logprobs"], body["seed"]) == (2, True, 3, 1)
    assert {k: body[k] for k in ("user", "metadata", "service_tier", "store")} == {
        "user": "user-42",
        "metadata": {"app": "crm"},
        "service_tier": "auto",
        "store": False,
    }
    # The usage enclave needs for accounting is asked for on top of what the client sent.
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}


def test_passthrough_cannot_override_what_enclave_sets(fake: FakeUpstream) -> None:
    generate(fake, "ok", chat(passthrough={"model": "gpt-expensive", "stream": False}))
    body = fake.last("ok")
    assert body["model"] == "ok" and body["stream"] is True


def test_images_reach_a_vision_upstream_as_content_parts(fake: FakeUpstream) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}
    generate(fake, "ok", chat(ChatMessage("user", "What is this?", images=(image,))))
    assert fake.last("ok")["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}
    ]


def assembled(deltas: list[Delta]) -> list[tuple[str, str, str]]:
    """Tool calls put together by index, as a client does from streamed pieces."""
    calls: dict[int, list[str]] = {}
    for delta in deltas:
        for piece in delta.tool_calls:
            call = calls.setdefault(piece.index, [piece.id or "", piece.name or "", ""])
            call[2] += piece.arguments
    return [tuple(calls[i]) for i in sorted(calls)]  # type: ignore[misc]


def test_whole_tool_calls_come_back_unchanged(fake: FakeUpstream) -> None:
    deltas = generate(fake, "tools", chat(tools=(WEATHER, TIME), stream=False))
    assert assembled(deltas) == TOOL_CALLS
    assert [c.index for c in deltas[-1].tool_calls] == [0, 1]
    assert deltas[-1].finish_reason == "tool_calls"
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens == USAGE["completion_tokens"]


def test_streamed_tool_calls_keep_openais_delta_shape(fake: FakeUpstream) -> None:
    deltas = generate(fake, "tools", chat(tools=(WEATHER, TIME)))
    pieces = [p for d in deltas for p in d.tool_calls]
    assert assembled(deltas) == TOOL_CALLS
    # Per call: id and name in its first piece only, then the arguments in fragments, as the upstream sent them.
    for index, (id_, name, arguments) in enumerate(TOOL_CALLS):
        own = [p for p in pieces if p.index == index]
        assert (own[0].id, own[0].name, own[0].arguments) == (id_, name, "")
        assert all(p.id is None and p.name is None for p in own[1:])
        assert [p.arguments for p in own[1:]] == [arguments[i : i + 4] for i in range(0, len(arguments), 4)]
    assert [d.finish_reason for d in deltas].count("tool_calls") == 1
    assert deltas[-1].finish_reason == "tool_calls" and deltas[-1].usage is not None


@pytest.mark.parametrize("stream", [True, False])
def test_n_choices_come_back_each_with_its_finish_reason(fake: FakeUpstream, stream: bool) -> None:
    deltas = generate(fake, "ok", chat(n=3, stream=stream))
    texts = ["".join(d.text for d in deltas if d.choice == i) for i in range(3)]
    assert texts == [REPLY, f"{REPLY} (1)", f"{REPLY} (2)"]
    finishes = {d.choice: d.finish_reason for d in deltas if d.finish_reason}
    assert finishes == {0: "stop", 1: "length", 2: "length"}
    assert [d.usage is not None for d in deltas].count(True) == 1 and deltas[-1].usage is not None


@pytest.mark.parametrize("stream", [True, False])
def test_logprobs_come_back_with_the_text_they_belong_to(fake: FakeUpstream, stream: bool) -> None:
    deltas = generate(fake, "ok", chat(logprobs=True, top_logprobs=1, stream=stream))
    with_text = [d for d in deltas if d.text]
    entries = [e for d in with_text for e in d.logprobs or ()]
    assert "".join(e["token"] for e in entries) == REPLY
    assert entries[0] == {
        "token": "Hello ",
        "logprob": -0.25,
        "bytes": list(b"Hello "),
        "top_logprobs": [{"token": "Hello ", "logprob": -0.25, "bytes": list(b"Hello ")}],
    }
    if stream:  # one entry per chunk, on the chunk whose text it scores
        assert all(d.logprobs is not None and d.logprobs[0]["token"] == d.text for d in with_text)


@pytest.mark.parametrize("stream", [True, False])
def test_text_completion_logprobs_are_asked_and_read_in_the_legacy_form(fake: FakeUpstream, stream: bool) -> None:
    deltas = generate(fake, "ok", GenerationRequest(prompt="Once upon", logprobs=True, top_logprobs=2, stream=stream))
    body = fake.last("ok")
    assert body["prompt"] == "Once upon" and body["logprobs"] == 2 and "top_logprobs" not in body
    entries = [e for d in deltas for e in d.logprobs or ()]
    assert "".join(e["token"] for e in entries) == REPLY
    assert entries[0]["top_logprobs"] == [{"token": "Hello ", "logprob": -0.25, "bytes": list(b"Hello ")}]


# --- end to end: an OpenAI client, enclave, the hosted API ----------------------------------------------------

CLIENT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": WEATHER.parameters,
            "strict": True,
        },
    },
    {"type": "function", "function": {"name": "get_time", "parameters": TIME.parameters}},
]
CLIENT_MESSAGES = [
    {"role": "system", "content": "You answer with tools."},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ],
    },
    {"role": "tool", "content": '{"celsius": 21}', "tool_call_id": "call_9"},
]


@pytest.fixture(scope="module")
def client(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    directory = tmp_path_factory.mktemp("passthrough")
    config = {
        "data_dir": str(directory),
        "models": [],
        # A server inside the perimeter (the guard keeps the city in these messages away from external zones).
        "providers": [{"name": "hosted", "base_url": fake.url, "zone": "local", "retries": 0}],
        "routes": [
            {"name": "assistant", "targets": ["hosted/tools"]},
            {"name": "writer", "targets": ["hosted/ok"]},
            {"name": "careful", "targets": ["hosted/refusal"]},
        ],
    }
    path = directory / "enclave.yaml"
    path.write_text(yaml.safe_dump(config))
    with running_server(path, directory / "server.log") as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


@pytest.mark.parametrize("stream", [True, False])
def test_an_openai_client_and_a_hosted_api_exchange_tool_calls_through_enclave(
    fake: FakeUpstream, client: openai.OpenAI, stream: bool
) -> None:
    fields: dict[str, Any] = {
        "tools": CLIENT_TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "seed": 3,
        "user": "user-42",
    }
    response = client.chat.completions.create(model="assistant", messages=CLIENT_MESSAGES, stream=stream, **fields)
    body = fake.last("tools")
    assert body["messages"] == CLIENT_MESSAGES
    assert {k: body[k] for k in fields} == fields
    if stream:
        calls: dict[int, list[str]] = {}
        finishes = []
        for chunk in response:
            for choice in chunk.choices:
                finishes.append(choice.finish_reason)
                for piece in choice.delta.tool_calls or ():
                    call = calls.setdefault(piece.index, [piece.id or "", piece.function.name or "", ""])
                    call[2] += piece.function.arguments or ""
        assert [tuple(calls[i]) for i in sorted(calls)] == TOOL_CALLS
        assert [f for f in finishes if f] == ["tool_calls"]
    else:
        message = response.choices[0].message
        assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == TOOL_CALLS
        assert response.choices[0].finish_reason == "tool_calls"


def test_an_openai_client_gets_a_hosted_apis_choices_and_logprobs_through_enclave(
    fake: FakeUpstream, client: openai.OpenAI
) -> None:
    response = client.chat.completions.create(
        model="writer", messages=[{"role": "user", "content": "Hi"}], n=2, logprobs=True, top_logprobs=1
    )
    assert (fake.last("ok")["n"], fake.last("ok")["logprobs"], fake.last("ok")["top_logprobs"]) == (2, True, 1)
    assert [c.message.content for c in response.choices] == [REPLY, f"{REPLY} (1)"]
    assert [c.finish_reason for c in response.choices] == ["stop", "length"]
    tokens = [e.token for e in response.choices[0].logprobs.content]
    assert "".join(tokens) == REPLY


@pytest.mark.parametrize("stream", [True, False])
def test_a_hosted_models_refusal_reaches_the_client_as_a_refusal(client: openai.OpenAI, stream: bool) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    if stream:
        chunks = list(client.chat.completions.create(model="careful", messages=messages, stream=True))
        assert "".join(c.choices[0].delta.refusal or "" for c in chunks if c.choices) == REFUSAL
        assert not "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        message = client.chat.completions.create(model="careful", messages=messages).choices[0].message
        assert (message.refusal, message.content) == (REFUSAL, None)


def test_a_json_schemas_description_reaches_the_upstream(fake: FakeUpstream) -> None:
    wanted = ResponseFormat("json_schema", {"type": "object"}, "answer", description="What the answer holds.")
    generate(fake, "ok", chat(response_format=wanted))
    assert fake.last("ok")["response_format"]["json_schema"]["description"] == "What the answer holds."
