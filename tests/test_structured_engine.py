"""JSON response formats in the embedded engine: the grammar holds every answer to its schema, what cannot be
enforced is refused up front, and a constrained sequence leaves the others in its batch untouched."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from enclave.config import ModelConfig
from enclave.engines.base import ChatMessage, Delta, GenerationRequest, ResponseFormat, SamplingParams
from enclave.engines.llamacpp.engine import EmbeddedEngine, EmbeddedGeneration
from enclave.engines.llamacpp.sampling import SamplerChain
from enclave.engines.llamacpp.sequence import Sequence
from enclave.engines.llamacpp.structures import structure_key
from enclave.errors import EngineFailed, InvalidRequest

GREEDY = SamplingParams(temperature=0)
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[EmbeddedEngine]:
    config = ModelConfig(name="smollm2-135m", context=2048, threads=2, parallel=4)
    engine = EmbeddedEngine(config, model_path, "test")
    yield engine
    asyncio.run(engine.close())


def ask(prompt: str | tuple[ChatMessage, ...], schema: dict[str, Any] | None = None, **kw: Any) -> GenerationRequest:
    response = ResponseFormat("json_schema", schema, "answer", True) if schema else ResponseFormat("json_object")
    messages = (ChatMessage("user", prompt),) if isinstance(prompt, str) else prompt
    kw.setdefault("max_tokens", 120)
    kw.setdefault("sampling", GREEDY)
    return GenerationRequest(messages=messages, response_format=response, **kw)


async def collect(engine: EmbeddedEngine, request: GenerationRequest) -> tuple[str, Delta]:
    parts: list[str] = []
    async for delta in await engine.submit(request):
        parts.append(delta.text)
        last = delta
    return "".join(parts), last


def answer(engine: EmbeddedEngine, request: GenerationRequest) -> tuple[str, Delta]:
    return asyncio.run(collect(engine, request))


class Address(BaseModel):
    street: str = Field(max_length=40)
    city: str = Field(max_length=30)


class Person(BaseModel):
    name: str = Field(max_length=30)
    age: int = Field(ge=0, le=120)
    home: Address
    nickname: str | None = Field(max_length=20)


class Category(BaseModel):
    """Pydantic writes this as a recursive $defs/$ref schema."""

    name: str = Field(max_length=20)
    children: list[Category] = Field(max_length=2)


# A small model left alone nests a recursive schema forever (until max_tokens): one earlier exchange shows it
# a tree that ends.
TREE_EXAMPLE = (
    ChatMessage("user", "Write the category Fruit as JSON."),
    ChatMessage("assistant", '{"name": "Fruit", "children": [{"name": "Apple", "children": []}]}'),
    ChatMessage("user", "Write the category Pets as JSON."),
)

SCHEMAS: dict[str, tuple[str | tuple[ChatMessage, ...], dict[str, Any]]] = {
    "nested objects and bounded arrays": (
        "Describe a small library with two books as JSON.",
        {
            "type": "object",
            "properties": {
                "library": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "maxLength": 30},
                        "books": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "title": {"type": "string", "maxLength": 30},
                                    "pages": {"type": "integer", "minimum": 1, "maximum": 2000},
                                },
                                "required": ["title", "pages"],
                                "additionalProperties": False,
                            },
                            "minItems": 2,
                            "maxItems": 3,
                        },
                    },
                    "required": ["name", "books"],
                    "additionalProperties": False,
                }
            },
            "required": ["library"],
            "additionalProperties": False,
        },
    ),
    "enum, const and nullable anyOf": (
        "Report the status of the server as JSON.",
        {
            "type": "object",
            "properties": {
                "kind": {"const": "status"},
                "level": {"enum": ["ok", "degraded", "down"]},
                "note": {"anyOf": [{"type": "string", "maxLength": 30}, {"type": "null"}]},
            },
            "required": ["kind", "level", "note"],
            "additionalProperties": False,
        },
    ),
    "pydantic nested model with an optional field": ("Describe a person as JSON.", Person.model_json_schema()),
    "pydantic recursive $defs/$ref": (TREE_EXAMPLE, Category.model_json_schema()),
    "pattern and formats": (
        "Give a customer record as JSON.",
        {
            "type": "object",
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                "email": {"type": "string", "format": "email", "maxLength": 40},
                "born": {"type": "string", "format": "date"},
                "id": {"type": "string", "format": "uuid"},
                "seen": {"type": "string", "format": "date-time"},
            },
            "required": ["code", "email", "born", "id", "seen"],
            "additionalProperties": False,
        },
    ),
    "number and integer bounds": (
        "Give the reading of a thermometer as JSON.",
        {
            "type": "object",
            "properties": {
                "celsius": {"type": "number", "exclusiveMinimum": -50, "maximum": 60},
                "sensor": {"type": "integer", "minimum": 1, "maximum": 9},
                "step": {"type": "integer", "multipleOf": 5, "minimum": 0, "maximum": 100},
            },
            "required": ["celsius", "sensor", "step"],
            "additionalProperties": False,
        },
    ),
}


@pytest.mark.parametrize("case", list(SCHEMAS))
def test_answer_validates_against_its_schema(engine: EmbeddedEngine, case: str) -> None:
    prompt, schema = SCHEMAS[case]
    text, last = answer(engine, ask(prompt, schema, max_tokens=200))
    assert last.finish_reason == "stop", text
    jsonschema.validate(json.loads(text), schema, format_checker=jsonschema.FormatChecker())


def test_json_object_answer_is_an_object(engine: EmbeddedEngine) -> None:
    text, last = answer(engine, ask("Give a JSON object with a cat's name and age.", max_tokens=40))
    assert last.finish_reason == "stop"
    assert isinstance(json.loads(text), dict)


def test_pydantic_model_parses_from_the_answer(engine: EmbeddedEngine) -> None:
    text, _ = answer(engine, ask("Describe a person as JSON.", Person.model_json_schema(), max_tokens=200))
    person = Person.model_validate_json(text)
    assert 0 <= person.age <= 120


def test_streamed_answer_equals_the_whole_answer(engine: EmbeddedEngine) -> None:
    prompt, schema = SCHEMAS["enum, const and nullable anyOf"]
    streamed, _ = answer(engine, ask(prompt, schema))
    whole, last = answer(engine, ask(prompt, schema, stream=False))
    assert streamed == whole and last.finish_reason == "stop"


def test_answer_cut_by_max_tokens_finishes_with_length(engine: EmbeddedEngine) -> None:
    prompt, schema = SCHEMAS["nested objects and bounded arrays"]
    text, last = answer(engine, ask(prompt, schema, max_tokens=5))
    assert last.finish_reason == "length"
    assert last.usage is not None and last.usage.completion_tokens == 5
    with pytest.raises(ValueError):
        json.loads(text)  # cut short: not claimed valid, and indeed not


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "object", "properties": {"t": {"type": "array", "uniqueItems": True}}}, "$.properties.t.uniqueItems"),
        ({"type": "object", "properties": {"a": {"not": {"type": "null"}}}}, "$.properties.a.not"),
        ({"type": "object", "properties": {"a": {"type": "string", "minLenght": 3}}}, "$.properties.a.minLenght"),
        ({"type": "object", "properties": {"c": {"type": "string", "format": "color"}}}, "$.properties.c.format"),
        ({"type": "object", "properties": {"r": {"$ref": "https://example.com/x.json"}}}, "$.properties.r.$ref"),
        ({"type": "object", "properties": {"r": {"$ref": "#/$defs/Missing"}}}, "$.properties.r.$ref"),
        ({"type": "object", "x-guidance": {"lenient": True}}, "$.x-guidance"),
        ({"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}}, "$.if"),
        ({"anyOf": [{"type": "string"}, {"type": "object", "propertyNames": {}}]}, "$.anyOf[1].propertyNames"),
    ],
)  # fmt: skip
def test_what_cannot_be_enforced_is_refused_by_path(engine: EmbeddedEngine, schema: dict, path: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        answer(engine, ask("Hi", schema))
    assert refused.value.param == "response_format"
    assert refused.value.message.startswith(path + ":"), refused.value.message
    assert refused.value.status == 400


def test_oneof_that_is_not_provably_exclusive_is_refused(engine: EmbeddedEngine) -> None:
    schema = {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]}
    with pytest.raises(InvalidRequest, match="oneOf") as refused:
        answer(engine, ask("Hi", schema))
    assert refused.value.param == "response_format"


def nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"inner": schema}}
    return schema


@pytest.mark.parametrize(
    ("schema", "limit"),
    [
        ({"type": "string", "maxLength": 1_000_000}, "maxLength"),
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 100_000}, "maxItems"),
        ({"enum": [f"v{i}" for i in range(5_000)]}, "enum"),
        ({"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(2_000)}}, "properties"),
        ({"type": "object", "description": "x" * 70_000}, "bytes"),
        (nested(40), "nests"),
    ],
)
def test_oversized_schema_is_refused_before_any_token(engine: EmbeddedEngine, schema: dict, limit: str) -> None:
    with pytest.raises(InvalidRequest, match=limit) as refused:
        answer(engine, ask("Hi", schema))
    assert refused.value.param == "response_format"


def test_grammar_past_its_limits_fails_that_request_only(engine: EmbeddedEngine) -> None:
    # This pattern's lexer grows with every "a" until llguidance's per-token budget runs out (about 55 tokens
    # in): that sequence fails with a clear error, never hangs, and the one beside it finishes as usual.
    schema = {"type": "string", "pattern": "^([a-h ]{1,10}){1,300}x$"}
    aaaa = engine.model.tokenize("aaaa", add_bos=False)[0]
    biased = SamplingParams(temperature=0, logit_bias={aaaa: 50})
    forced = ask("Write letters.", schema, max_tokens=150, sampling=biased)
    plain = GenerationRequest(messages=(ChatMessage("user", "Hi"),), sampling=GREEDY, max_tokens=80, ignore_eos=True)

    async def together() -> tuple[object, ...]:
        return tuple(await asyncio.gather(collect(engine, forced), collect(engine, plain), return_exceptions=True))

    failed, (_, last) = asyncio.run(together())
    assert isinstance(failed, EngineFailed) and "constrained decoding failed" in failed.message
    assert last.finish_reason == "length"


def test_stop_and_ignore_eos_cannot_cut_an_enforced_answer(engine: EmbeddedEngine) -> None:
    with pytest.raises(InvalidRequest) as refused:
        answer(engine, ask("Hi", stop=("}",)))
    assert refused.value.param == "stop"
    with pytest.raises(InvalidRequest) as refused:
        answer(engine, ask("Hi", ignore_eos=True))
    assert refused.value.param == "ignore_eos"


def test_a_kept_plan_serves_the_same_schema_and_never_a_request_it_would_refuse(engine: EmbeddedEngine) -> None:
    first = ask("Name a person.", PERSON)
    answer(engine, first)
    kept = engine.structures.get(structure_key(first))
    assert kept is not None
    # Another prompt, the same schema: the same plan and prototype grammar, and still a valid answer.
    again = ask("Describe someone else.", PERSON)
    assert engine.structures.get(structure_key(again)) is kept
    text, last = answer(engine, again)
    assert last.finish_reason == "stop" and set(json.loads(text)) == set(PERSON["required"])
    # What plan_answer checks of the request is part of the key: the same schema with a stop is refused as ever.
    with pytest.raises(InvalidRequest) as refused:
        answer(engine, ask("Name a person.", PERSON, stop=("}",)))
    assert refused.value.param == "stop"


def test_unconstrained_neighbour_answers_as_it_would_alone(engine: EmbeddedEngine) -> None:
    plain = GenerationRequest(
        messages=(ChatMessage("user", "Tell me about the sea."),), sampling=GREEDY, max_tokens=48, ignore_eos=True
    )
    prompt, schema = SCHEMAS["nested objects and bounded arrays"]

    async def together() -> tuple[tuple[str, Delta], ...]:
        return tuple(await asyncio.gather(collect(engine, plain), collect(engine, ask(prompt, schema, max_tokens=200))))

    alone, _ = answer(engine, plain)
    (beside, _), (structured, last) = asyncio.run(together())
    assert beside == alone
    assert last.finish_reason == "stop"
    jsonschema.validate(json.loads(structured), schema)


def test_non_strict_schema_is_enforced_as_written(engine: EmbeddedEngine) -> None:
    schema = {"type": "object", "properties": {"colour": {"enum": ["red", "green"]}}, "required": ["colour"]}
    request = GenerationRequest(
        messages=(ChatMessage("user", "Pick a colour, as JSON."),),
        sampling=GREEDY,
        max_tokens=60,
        response_format=ResponseFormat("json_schema", schema, "pick", strict=False),
    )
    text, last = answer(engine, request)
    assert last.finish_reason == "stop"
    assert json.loads(text)["colour"] in ("red", "green")


def test_batch_llama_cpp_refuses_fails_only_the_sequence_at_fault(engine: EmbeddedEngine) -> None:
    # A token outside the vocabulary makes llama_decode refuse the whole batch; the scheduler then evaluates
    # each sequence alone, and only the one holding that token fails.
    async def run() -> None:
        good = await engine.submit(
            GenerationRequest(messages=(ChatMessage("user", "Hi"),), sampling=GREEDY, max_tokens=24, ignore_eos=True)
        )
        stream = good.__aiter__()
        await stream.__anext__()  # generating now: the bad prompt will share its steps
        generation = EmbeddedGeneration(engine.scheduler, 3)
        sampler = SamplerChain(GREEDY, engine.config.sampling, engine.model.n_vocab)
        prompt = [1, engine.model.n_vocab + 7, 2]
        bad = Sequence(prompt, sampler, max_tokens=4, stop=(), ignore_eos=False, sink=generation.deliver)
        generation.sequences.append(bad)
        engine.scheduler.submit(bad)
        with pytest.raises(EngineFailed):
            async for _ in generation:
                pass
        rest = [delta async for delta in stream]
        assert rest[-1].finish_reason == "length"
        assert rest[-1].usage is not None and rest[-1].usage.completion_tokens == 24

    asyncio.run(run())
