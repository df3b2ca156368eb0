"""Tools over HTTP: every bad input is a 400 naming its field; tool calls come back in OpenAI's exact shapes,
whole and streamed (from a stand-in hosted API that calls tools, and from the default model); the official
SDK, LangChain and instructor drive the default model's tool calls unchanged; the ledger and the audit log
record which tools were called (names only) and whether the answer was constrained."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import instructor
import openai
import pytest
from alembic import command
from alembic.config import Config
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field
from sqlalchemy import column, insert, inspect, select, table

from enclave.ledger.records import TOOLS_LENGTH, UsageRecord, tools_called
from enclave.store.db import MIGRATIONS, migrate, now_us, open_engine
from enclave.store.schema import audit_log, usage
from tests.fake_upstream import TOOL_CALLS, FakeUpstream, fake_upstream
from tests.servers import running_server, write_config

MODEL = "smollm2-135m"
HOSTED = "hosted-tools"  # the stand-in hosted API, calling TOOL_CALLS
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 40}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time in a time zone.",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "maxLength": 10}},
            "required": ["zone"],
        },
    },
}


class GetWeather(BaseModel):
    """The current weather in a city."""

    city: str = Field(max_length=40)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def server(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The default model, and a route to the stand-in; its ledger in the folder returned."""
    directory = tmp_path_factory.mktemp("tools")
    settings = {
        "providers": [{"name": "hosted", "base_url": fake.url, "zone": "external", "retries": 0}],
        "routes": [{"name": HOSTED, "targets": ["hosted/tools"]}],
        "ledger": {"flush_seconds": 0.1},
    }
    config = write_config(directory, settings, context=2048, parallel=4, threads=2)
    with running_server(config, directory / "server.log") as url:
        yield url, directory


@pytest.fixture(scope="module")
def client(server: tuple[str, Path]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server[0]}/v1", api_key="unused", max_retries=0)


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL, "messages": ASK, **body}, timeout=60)


CALLED = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    ],
}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}]},
            "tools.0.function.parameters",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
            "tools.0.function.parameters",
        ),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "parameters": {"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}},
                        },
                    }
                ]
            },
            "tools.0.function.parameters",
        ),
        ({"tools": [{"type": "function", "function": {"name": "no spaces"}}]}, "tools.0.function.name"),
        ({"tools": [{"type": "function", "function": {"name": "x" * 65}}]}, "tools.0.function.name"),
        ({"tools": [WEATHER, WEATHER]}, "tools.1.function.name"),
        ({"tools": [{"type": "custom", "custom": {"name": "f"}}]}, "tools.0.type"),
        ({"tools": [{"type": "function", "function": {"name": f"f{i}"}} for i in range(129)]}, "tools"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_time"}}}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": "always"}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        (
            {"messages": [*ASK, {"role": "tool", "content": "21 C", "tool_call_id": "call_9"}]},
            "messages.1.tool_call_id",
        ),
        ({"messages": [*ASK, {"role": "tool", "content": "21 C"}]}, "messages.1.tool_call_id"),
        (
            {"messages": [*ASK, CALLED, {"role": "tool", "content": "21 C", "tool_call_id": "call_2"}]},
            "messages.2.tool_call_id",
        ),
        ({"messages": [{**ASK[0], "tool_calls": CALLED["tool_calls"]}]}, "messages.0.tool_calls"),
        ({"messages": [*ASK, {"role": "assistant", "content": None}]}, "messages.1.content"),
        ({"messages": [{"role": "user", "content": None}]}, "messages.0.content"),
        (
            {"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x.png"}}]}, *ASK]},
            "messages.0.content.0",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
            "messages.0.content",
        ),
        ({"functions": [{"name": "f", "parameters": {}}]}, "functions"),
        ({"function_call": "auto"}, "function_call"),
        ({"n": 0}, "n"),
        ({"n": 129}, "n"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"seed": "one"}, "seed"),
        ({"frobnicate": True}, "frobnicate"),
    ],
)
def test_bad_tool_requests_are_400s_naming_the_field(
    server: tuple[str, Path], body: dict[str, Any], param: str
) -> None:
    response = post(server[0], body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error"


def test_images_are_refused_by_the_default_model(server: tuple[str, Path]) -> None:
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    response = post(server[0], {"messages": [{"role": "user", "content": content}]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"].startswith("messages")


def test_hosted_tool_calls_come_back_whole(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=HOSTED, messages=[{"role": "user", "content": "Call them."}], tools=[WEATHER, TIME]
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = [(c.id, c.type, c.function.name, c.function.arguments) for c in choice.message.tool_calls]
    assert calls == [(i, "function", name, arguments) for i, name, arguments in TOOL_CALLS]


def test_streamed_tool_calls_follow_openai_delta_shape(server: tuple[str, Path]) -> None:
    body = {
        "model": HOSTED,
        "messages": [{"role": "user", "content": "Call them."}],
        "tools": [WEATHER, TIME],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", f"{server[0]}/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    finish = chunks[-2]["choices"][0]
    assert finish["delta"] == {} and finish["finish_reason"] == "tool_calls"
    pieces = [p for c in chunks[1:-2] for p in c["choices"][0]["delta"]["tool_calls"]]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[1:-2])
    for index, (id_, name, arguments) in enumerate(TOOL_CALLS):
        mine = [p for p in pieces if p["index"] == index]
        assert mine[0] == {"index": index, "id": id_, "type": "function", "function": {"name": name, "arguments": ""}}
        assert all(set(p) == {"index", "function"} and set(p["function"]) == {"arguments"} for p in mine[1:])
        assert "".join(p["function"]["arguments"] for p in mine[1:]) == arguments


def test_the_sdk_stream_helper_assembles_hosted_tool_calls(client: openai.OpenAI) -> None:
    tool = openai.pydantic_function_tool(GetWeather, name="get_weather")
    with client.chat.completions.stream(
        model=HOSTED, messages=[{"role": "user", "content": "Call them."}], tools=[tool]
    ) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    assert [e.name for e in done] == ["get_weather", "get_time"]
    first = final.choices[0].message.tool_calls[0]
    assert first.function.parsed_arguments == GetWeather(city="Paris")


# --- the default model ----------------------------------------------------------------------------------------


def test_a_named_tool_choice_forces_a_valid_call(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=ASK,
        tools=[WEATHER, TIME],
        temperature=0,
        max_tokens=60,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather" and call.id
    assert set(json.loads(call.function.arguments)) == {"city"}


def test_required_tool_call_streamed_and_assembled_by_the_sdk(client: openai.OpenAI) -> None:
    tool = openai.pydantic_function_tool(GetWeather, name="get_weather")
    with client.chat.completions.stream(
        model=MODEL,
        messages=ASK,
        tools=[tool],
        tool_choice="required",
        temperature=0,
        max_tokens=60,
        parallel_tool_calls=False,
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.delta" in kinds
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert isinstance(call.function.parsed_arguments, GetWeather)


def test_a_call_and_its_result_go_back_through_the_template(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model=MODEL,
        messages=ASK,
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        temperature=0,
        max_tokens=60,
    )
    (call,) = first.choices[0].message.tool_calls
    # The agent loop as the SDK's users write it: the answer's message object goes back as it came.
    messages = [*ASK, first.choices[0].message, {"role": "tool", "tool_call_id": call.id, "content": '{"celsius": 21}'}]
    response = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice="none", temperature=0, max_tokens=30
    )
    choice = response.choices[0]
    assert choice.message.content and not choice.message.tool_calls
    assert choice.finish_reason in ("stop", "length")


def test_langchain_bind_tools_returns_tool_calls(server: tuple[str, Path]) -> None:
    llm = ChatOpenAI(base_url=f"{server[0]}/v1", api_key="x", model=MODEL, temperature=0, max_retries=0, max_tokens=60)
    for choice in ("any", "GetWeather"):
        bound = llm.bind_tools([GetWeather], tool_choice=choice, parallel_tool_calls=False)
        message = bound.invoke("What is the weather in Paris?")
        (call,) = message.tool_calls
        assert call["name"] == "GetWeather"
        assert isinstance(GetWeather.model_validate(call["args"]), GetWeather)


def test_instructor_tools_mode_returns_a_validated_model(server: tuple[str, Path]) -> None:
    client = instructor.from_openai(
        openai.OpenAI(base_url=f"{server[0]}/v1", api_key="x", max_retries=0), mode=instructor.Mode.TOOLS
    )
    weather = client.chat.completions.create(
        model=MODEL, response_model=GetWeather, messages=ASK, temperature=0, max_tokens=60, max_retries=1
    )
    assert isinstance(weather, GetWeather)


def _rows(directory: Path, request_ids: list[str]) -> list[dict[str, Any]]:
    """These requests' usage rows, each with its audit entry's details, once the ledger has written them."""
    engine = open_engine(f"sqlite:///{directory / 'enclave.db'}")
    deadline = time.monotonic() + 30
    try:
        while True:
            with engine.connect() as connection:
                rows = {
                    r["request_id"]: dict(r)
                    for r in connection.execute(select(usage).where(usage.c.request_id.in_(request_ids))).mappings()
                }
                for (details,) in connection.execute(
                    select(audit_log.c.details).where(audit_log.c.action == "inference")
                ):
                    entry = json.loads(details)
                    if entry["request_id"] in rows:
                        rows[entry["request_id"]]["details"] = entry
            if len(rows) == len(request_ids) and all("details" in r for r in rows.values()):
                return [rows[i] for i in request_ids]
            assert time.monotonic() < deadline, "the ledger did not record the requests"
            time.sleep(0.1)
    finally:
        engine.dispose()


def test_ledger_and_audit_record_tool_names_and_constraint(server: tuple[str, Path], client: openai.OpenAI) -> None:
    create = client.chat.completions.with_raw_response.create
    responses = [
        create(model=HOSTED, messages=[{"role": "user", "content": "Call them."}], tools=[WEATHER, TIME]),
        create(
            model=MODEL,
            messages=ASK,
            tools=[WEATHER],
            tool_choice="required",
            temperature=0,
            max_tokens=60,
            parallel_tool_calls=False,
        ),
        create(model=MODEL, messages=ASK, max_tokens=4),
        create(model=MODEL, messages=ASK, max_tokens=4, response_format={"type": "json_object"}),
    ]
    hosted, forced, plain, json_object = _rows(server[1], [r.headers["x-request-id"] for r in responses])
    assert (hosted["tools"], hosted["constrained"]) == ("get_time=1, get_weather=1", False)
    assert hosted["details"]["tools"] == "get_time=1, get_weather=1" and "constrained" not in hosted["details"]
    assert (forced["tools"], forced["constrained"]) == ("get_weather=1", True)
    assert forced["details"]["tools"] == "get_weather=1" and forced["details"]["constrained"] is True
    assert (plain["tools"], plain["constrained"]) == (None, False)
    assert "tools" not in plain["details"]
    assert (json_object["tools"], json_object["constrained"]) == (None, True)
    # Names and counts only: the arguments are nowhere in the ledger or the audit log.
    assert "Paris" not in json.dumps([hosted, forced], default=str)


def test_the_stored_tool_names_are_bounded() -> None:
    assert tools_called({}) is None
    assert tools_called({"search": 2, "get_weather": 1}) == "get_weather=1, search=2"
    many = {f"{i:03d}_" + "x" * 80: 1 for i in range(128)}  # names longer than OpenAI allows, as an upstream might
    text = tools_called(many)
    assert text is not None and len(text) <= TOOLS_LENGTH
    listed = text.split(", ")
    assert listed[-1] == f"+{128 - len(listed) + 1} more"
    assert all(len(name.split("=")[0]) <= 64 for name in listed[:-1])


def test_the_tools_migration_goes_down_and_up(store_url: str) -> None:
    engine = open_engine(store_url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        assert not {"tools", "constrained"} & {c["name"] for c in inspect(engine).get_columns("usage")}
        with engine.begin() as connection:  # a row as the previous revision wrote it
            row = {
                k: v
                for k, v in UsageRecord("before", now_us(), "chat", MODEL, "ok", 1.0).row().items()
                if k not in ("tools", "constrained")
            }
            connection.execute(insert(table("usage", *(column(name) for name in row))), row)
        migrate(engine)
        with engine.begin() as connection:
            connection.execute(
                insert(usage),
                UsageRecord("after", now_us(), "chat", MODEL, "ok", 1.0, tools="get_weather=1", constrained=True).row(),
            )
            rows = connection.execute(
                select(usage.c.request_id, usage.c.tools, usage.c.constrained).order_by(usage.c.id)
            ).all()
        assert [tuple(r) for r in rows] == [("before", None, False), ("after", "get_weather=1", True)]
    finally:
        engine.dispose()
