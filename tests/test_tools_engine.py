"""Tool calls in the embedded engine: forced calls are valid calls, a call the model starts is finished as a
valid one, calls stream in OpenAI's delta shape, and earlier calls and their results go back into the prompt."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from enclave.config import ModelConfig
from enclave.engines.base import (
    ChatMessage,
    Delta,
    GenerationRequest,
    ResponseFormat,
    SamplingParams,
    ToolCall,
    ToolSpec,
)
from enclave.engines.llamacpp.engine import EmbeddedEngine
from enclave.engines.tool_format import ToolCallParser
from enclave.errors import InvalidRequest

GREEDY = SamplingParams(temperature=0)
CITY = {"type": "string", "maxLength": 30}
WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather for a city",
    {
        "type": "object",
        "properties": {"city": CITY, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    strict=True,
)
TIME = ToolSpec(
    "get_time",
    "Get the local time in a city",
    {"type": "object", "properties": {"city": CITY}, "required": ["city"]},
)
TOOLS = (WEATHER, TIME)
UNIQUE = {"type": "array", "uniqueItems": True}
SCHEMAS = {tool.name: tool.parameters for tool in TOOLS}

# A Hermes-style template with the tool format built in, marked so a test can tell it rendered the tools.
HERMES_TEMPLATE = """
{%- if tools %}
{{- '<|im_start|>system\\n# Tools (from the template)\\n\\nYou may call functions. Signatures:\\n<tools>' }}
{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}
{{- '\\n</tools>\\n\\nCall a function like this:\\n<tool_call>\\n{"name": <function-name>, "arguments": <args>}\\n'
    '</tool_call><|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'assistant' and message.tool_calls %}
{{- '<|im_start|>assistant' }}
{%- for call in message.tool_calls %}
{{- '\\n<tool_call>\\n{"name": "' + call.function.name + '", "arguments": ' + (call.function.arguments | tojson)
    + '}\\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\\n' }}
{%- elif message.role == 'tool' %}
{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}
{%- else %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""


def make_engine(model_path: Path, **settings: Any) -> EmbeddedEngine:
    config = ModelConfig(name="smollm2-135m", context=2048, threads=2, parallel=4, **settings)
    return EmbeddedEngine(config, model_path, "test")


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[EmbeddedEngine]:
    engine = make_engine(model_path)
    yield engine
    asyncio.run(engine.close())


def ask(text: str | tuple[ChatMessage, ...], **kw: Any) -> GenerationRequest:
    messages = (ChatMessage("user", text),) if isinstance(text, str) else text
    kw.setdefault("tools", TOOLS)
    kw.setdefault("max_tokens", 60)
    kw.setdefault("sampling", GREEDY)
    return GenerationRequest(messages=messages, **kw)


async def collect(engine: EmbeddedEngine, request: GenerationRequest) -> list[Delta]:
    return [delta async for delta in await engine.submit(request)]


def run(engine: EmbeddedEngine, request: GenerationRequest) -> list[Delta]:
    return asyncio.run(collect(engine, request))


def assembled(deltas: list[Delta]) -> list[ToolCall]:
    """Calls put together the way an OpenAI client does: by index, id and name once, arguments appended."""
    calls: dict[int, list[str]] = {}
    for delta in deltas:
        for piece in delta.tool_calls:
            if piece.index not in calls:
                assert piece.id is not None and piece.id.startswith("call_") and piece.name, piece
                calls[piece.index] = [piece.id, piece.name, ""]
            else:
                assert piece.id is None and piece.name is None, piece
            calls[piece.index][2] += piece.arguments
    assert sorted(calls) == list(range(len(calls)))
    return [ToolCall(*calls[i]) for i in sorted(calls)]


def assert_valid(call: ToolCall) -> None:
    jsonschema.validate(json.loads(call.arguments), SCHEMAS[call.name])


def test_required_call_is_a_valid_call(engine: EmbeddedEngine) -> None:
    deltas = run(engine, ask("What is the weather in Paris?", tool_choice="required", parallel_tool_calls=False))
    calls = assembled(deltas)
    assert len(calls) == 1 and calls[0].name in SCHEMAS
    assert_valid(calls[0])
    assert deltas[-1].finish_reason == "tool_calls"
    assert "".join(d.text for d in deltas) == ""


def test_named_choice_calls_that_tool_once(engine: EmbeddedEngine) -> None:
    deltas = run(engine, ask("What is the weather in Paris?", tool_choice="get_time"))
    calls = assembled(deltas)
    assert [c.name for c in calls] == ["get_time"]
    assert_valid(calls[0])
    assert deltas[-1].finish_reason == "tool_calls"


def test_parallel_calls_are_each_valid(engine: EmbeddedEngine) -> None:
    deltas = run(engine, ask("What is the weather in Paris and in London?", tool_choice="required", max_tokens=90))
    calls = assembled(deltas)
    assert len(calls) >= 2 and len({c.id for c in calls}) == len(calls)
    for call in calls:
        assert_valid(call)
    assert deltas[-1].finish_reason == "tool_calls"


def test_auto_may_answer_in_text(engine: EmbeddedEngine) -> None:
    deltas = run(engine, ask("Say hello to me.", max_tokens=30))
    assert not assembled(deltas)
    assert "".join(d.text for d in deltas).strip()
    assert deltas[-1].finish_reason in ("stop", "length")


def test_auto_call_once_opened_is_held_to_the_schema(engine: EmbeddedEngine) -> None:
    # A nudge towards "<" makes the model open a call by itself; from the opener on, the grammar decides.
    less_than = engine.model.tokenize("<", add_bos=False)[0]
    nudged = SamplingParams(temperature=0, logit_bias={less_than: 5.0})
    deltas = run(engine, ask("What is the weather in Paris?", sampling=nudged, parallel_tool_calls=False))
    calls = assembled(deltas)
    assert len(calls) == 1
    assert_valid(calls[0])
    assert "<tool_call>" not in "".join(d.text for d in deltas)
    assert deltas[-1].finish_reason == "tool_calls"


def test_none_keeps_tools_out_of_the_prompt(engine: EmbeddedEngine) -> None:
    async def both() -> tuple[int, int, list[Delta]]:
        auto = await engine.submit(ask("What is the weather in Paris?", max_tokens=1))
        none = await engine.submit(ask("What is the weather in Paris?", tool_choice="none", max_tokens=30))
        auto.cancel()
        return auto.prompt_tokens, none.prompt_tokens, [d async for d in none]

    with_tools, without, deltas = asyncio.run(both())
    assert without < with_tools - 100
    assert not any(d.tool_calls for d in deltas)


def test_streamed_and_whole_calls_agree(engine: EmbeddedEngine) -> None:
    request = ask("What is the weather in Rome?", tool_choice="get_weather")
    streamed = assembled(run(engine, request))
    (whole,) = run(engine, ask("What is the weather in Rome?", tool_choice="get_weather", stream=False))
    assert whole.finish_reason == "tool_calls" and whole.text == ""
    assert [(c.index, c.name, c.arguments) for c in whole.tool_calls] == [
        (i, c.name, c.arguments) for i, c in enumerate(streamed)
    ]
    assert whole.tool_calls[0].id is not None and whole.tool_calls[0].id.startswith("call_")


HISTORY = (
    ChatMessage("user", "What is the weather in Rome?"),
    ChatMessage("assistant", "", tool_calls=(ToolCall("call_1", "get_weather", '{"city":"Rome","unit":"celsius"}'),)),
    ChatMessage("tool", '{"temperature": 21, "sky": "sunny"}', tool_call_id="call_1"),
)


def test_round_trip_renders_calls_and_results(engine: EmbeddedEngine) -> None:
    prompt = engine.template.render(HISTORY, TOOLS)
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome", "unit": "celsius"}}\n</tool_call>'
    assert call in prompt
    assert '<tool_response>\n{"temperature": 21, "sky": "sunny"}\n</tool_response>' in prompt
    assert '"name": "get_time"' in prompt  # the tools are described
    deltas = run(engine, ask(HISTORY, max_tokens=30))
    assert deltas[-1].finish_reason in ("stop", "length", "tool_calls")
    for call_made in assembled(deltas):
        assert_valid(call_made)


def test_template_native_tool_format(model_path: Path) -> None:
    native = make_engine(model_path, chat_template=HERMES_TEMPLATE)
    try:
        assert native.template.supports_tools
        prompt = native.template.render(HISTORY, TOOLS)
        assert "# Tools (from the template)" in prompt
        assert '{"name": "get_weather", "arguments": {"city": "Rome", "unit": "celsius"}}' in prompt
        assert "<tool_response>" in prompt
        deltas = run(native, ask("What is the weather in Oslo?", tool_choice="required", parallel_tool_calls=False))
        (call,) = assembled(deltas)
        assert_valid(call)
        assert deltas[-1].finish_reason == "tool_calls"
    finally:
        asyncio.run(native.close())


def test_tools_with_a_json_schema_answer_give_json_or_calls(engine: EmbeddedEngine) -> None:
    schema = {
        "type": "object",
        "properties": {"greeting": {"type": "string", "maxLength": 40}},
        "required": ["greeting"],
        "additionalProperties": False,
    }
    request = ask(
        "Greet me.",
        response_format=ResponseFormat("json_schema", schema, "greeting", True),
        parallel_tool_calls=False,
        max_tokens=80,
    )
    deltas = run(engine, request)
    calls = assembled(deltas)
    if calls:
        assert deltas[-1].finish_reason == "tool_calls"
        (call,) = calls
        assert_valid(call)
    else:
        assert deltas[-1].finish_reason == "stop"
        jsonschema.validate(json.loads("".join(d.text for d in deltas)), schema)


@pytest.mark.parametrize(
    ("change", "param", "says"),
    [
        ({"tool_choice": "get_stock"}, "tool_choice", "not among the tools"),
        ({"tool_choice": "required", "tools": ()}, "tool_choice", "needs tools"),
        (
            {"tools": (ToolSpec("t", None, {"type": "object", "properties": {"x": UNIQUE}}),)},
            "tools.0.function.parameters",
            "$.properties.x.uniqueItems:",
        ),
        ({"tools": (ToolSpec("t", None, {"type": "string"}),)}, "tools.0.function.parameters", "a JSON object"),
        ({"tools": (ToolSpec("bad name!"),)}, "tools.0.function.name", "letters, digits"),
        ({"tools": (TIME, TIME)}, "tools.1.function.name", "two tools"),
        ({"tool_choice": "required", "stop": ("x",)}, "stop", "grammar decides"),
    ],
)  # fmt: skip
def test_what_cannot_be_honoured_is_refused(engine: EmbeddedEngine, change: dict, param: str, says: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        run(engine, ask("Hi", **change))
    assert refused.value.param == param
    assert says in refused.value.message


def test_tools_need_messages(engine: EmbeddedEngine) -> None:
    with pytest.raises(InvalidRequest) as refused:
        run(engine, GenerationRequest(prompt="Hi", tools=TOOLS, max_tokens=4))
    assert refused.value.param == "tools"


# --- the parser alone -------------------------------------------------------------------------------------------

WRITTEN = (
    'Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome {x}", "unit": "celsius"}}\n'
    '</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"city": "Oslo \\"N\\""}}\n</tool_call>'
)


@pytest.mark.parametrize("size", [1, 2, 3, 7, len(WRITTEN)])
def test_parser_gives_the_same_calls_whatever_the_chunking(size: int) -> None:
    parser = ToolCallParser()
    content, pieces = "", []
    for start in range(0, len(WRITTEN), size):
        text, deltas = parser.feed(WRITTEN[start : start + size])
        content += text
        pieces.append(Delta("", tool_calls=tuple(deltas)))
    content += parser.flush()
    assert content == "Let me check."
    calls = assembled(pieces)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Rome {x}", "unit": "celsius"}),
        ("get_time", {"city": 'Oslo "N"'}),
    ]
    assert calls == parser.calls


def test_parser_holds_back_only_what_could_open_a_call() -> None:
    parser = ToolCallParser()
    assert parser.feed("a < b and <tool") == ("a < b and ", [])
    assert parser.feed("box>") == ("<toolbox>", [])
    assert parser.feed(" <tool_c") == (" ", [])
    assert parser.flush() == "<tool_c"
