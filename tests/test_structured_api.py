"""Structured outputs, n and logprobs over HTTP on the default model: the official SDK's ``parse``, LangChain's
``with_structured_output`` and instructor get validated objects back; JSON answers stream in OpenAI's shape;
several choices and log-probabilities come back per choice; bad formats are 400s naming the field."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import httpx
import instructor
import jsonschema
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

MODEL = "smollm2-135m"
ASK = [{"role": "user", "content": "Describe Ada, a 36 year old admin who lives at 12 High Street in London."}]


class Address(BaseModel):
    street: str = Field(max_length=40)
    city: str = Field(max_length=30)


class Person(BaseModel):
    name: str = Field(max_length=30)
    age: int = Field(ge=0, le=150)
    role: Literal["admin", "user", "guest"]
    nickname: str | None = Field(max_length=20)
    tags: list[Annotated[str, Field(max_length=15)]] = Field(max_length=3)
    address: Address


@pytest.fixture(scope="module")
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)


def test_sdk_parse_returns_the_pydantic_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model=MODEL, messages=ASK, response_format=Person, temperature=0, max_tokens=300
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert isinstance(choice.message.parsed, Person)
    assert choice.message.parsed == Person.model_validate_json(choice.message.content)


class Card(BaseModel):
    method: Literal["card"]
    last4: str = Field(pattern=r"^[0-9]{4}$")


class Cash(BaseModel):
    method: Literal["cash"]
    currency: Literal["EUR", "USD"]


class Payment(BaseModel):
    amount: float = Field(multiple_of=0.01, ge=0, le=1000)
    payment: Annotated[Card | Cash, Field(discriminator="method")]


def test_sdk_parse_with_a_discriminated_union_and_its_message_sent_back(client: openai.OpenAI) -> None:
    """A Pydantic discriminated union (oneOf of $refs) with a decimal multipleOf is enforced, and the parsed
    message, appended to the conversation as the SDK's examples do, is accepted in the next request."""
    messages: list[Any] = [{"role": "user", "content": "I paid 19.99 by card ending in 4242. As JSON."}]
    completion = client.chat.completions.parse(
        model=MODEL, messages=messages, response_format=Payment, temperature=0, max_tokens=120
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop", choice.message.content
    assert isinstance(choice.message.parsed, Payment)
    messages += [choice.message, {"role": "user", "content": "And the currency?"}]
    again = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=8)
    assert again.choices[0].message.content is not None


def test_a_schema_nested_past_the_json_parsers_limit_is_refused_by_field(server: str) -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(150):  # 300 levels of JSON: past pydantic's parser, within Python's
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
    request = {"model": MODEL, "messages": ASK, "response_format": {"type": "json_schema", "json_schema": {
        "name": "deep", "schema": schema}}}  # fmt: skip
    response = httpx.post(f"{server}/v1/chat/completions", content=json.dumps(request), timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "response_format"


def test_json_object_is_a_json_object(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL, messages=ASK, temperature=0, max_tokens=120, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(response.choices[0].message.content), dict)


def test_a_streamed_json_answer_validates(client: openai.OpenAI) -> None:
    schema = Person.model_json_schema()
    stream = client.chat.completions.create(
        model=MODEL,
        messages=ASK,
        temperature=0,
        max_tokens=300,
        stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
    )
    chunks = [c for c in stream if c.choices]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len(chunks) > 3
    assert chunks[-1].choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(text), schema)


def test_an_answer_cut_by_max_tokens_says_length(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=ASK,
        max_tokens=5,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": Person.model_json_schema()},
        },
    )
    assert response.choices[0].finish_reason == "length"
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(model=MODEL, messages=ASK, response_format=Person, max_tokens=5)


def test_langchain_with_structured_output(server: str) -> None:
    llm = ChatOpenAI(base_url=f"{server}/v1", api_key="x", model=MODEL, temperature=0, max_retries=0, max_tokens=300)
    assert isinstance(llm.with_structured_output(Person).invoke(ASK[0]["content"]), Person)
    by_tool = llm.with_structured_output(Person, method="function_calling").invoke(ASK[0]["content"])
    assert isinstance(by_tool, Person)


def test_instructor_json_schema_mode(server: str) -> None:
    client = instructor.from_openai(
        openai.OpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0), mode=instructor.Mode.JSON_SCHEMA
    )
    person = client.chat.completions.create(
        model=MODEL, response_model=Person, messages=ASK, temperature=0, max_tokens=300, max_retries=1
    )
    assert isinstance(person, Person)


def test_several_choices_with_logprobs(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        n=3,
        logprobs=True,
        top_logprobs=2,
        max_tokens=8,
        temperature=0.8,
        seed=3,
    )
    assert [c.index for c in response.choices] == [0, 1, 2]
    for choice in response.choices:
        entries = choice.logprobs.content
        assert "".join(e.token for e in entries) == choice.message.content
        assert all(len(e.top_logprobs) == 2 and e.logprob <= 0 for e in entries)
    assert response.usage.completion_tokens == sum(len(c.logprobs.content) for c in response.choices)


def test_several_choices_streamed(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        n=2,
        max_tokens=8,
        temperature=0,
        stream=True,
        logprobs=True,
    )
    texts: dict[int, str] = {0: "", 1: ""}
    tokens: dict[int, str] = {0: "", 1: ""}
    finishes: dict[int, list[str]] = {0: [], 1: []}
    for chunk in stream:
        (choice,) = chunk.choices
        texts[choice.index] += choice.delta.content or ""
        tokens[choice.index] += "".join(e.token for e in (choice.logprobs.content if choice.logprobs else []))
        if choice.finish_reason:
            finishes[choice.index].append(choice.finish_reason)
    assert texts[0] and texts[0] == texts[1] == tokens[0] == tokens[1]  # temperature 0: the same answer twice
    assert all(len(f) == 1 for f in finishes.values())


def test_text_completions_logprobs_and_n(client: openai.OpenAI) -> None:
    response = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=6, n=2, logprobs=2, temperature=0
    )
    assert len(response.choices) == 2
    for choice in response.choices:
        lp = choice.logprobs
        assert "".join(lp.tokens) == choice.text
        assert lp.text_offset == [sum(len(t) for t in lp.tokens[:i]) for i in range(len(lp.tokens))]
        assert all(len(top) <= 2 for top in lp.top_logprobs)
    stream = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=6, logprobs=0, temperature=0, stream=True
    )
    tokens = [t for c in stream if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.tokens]
    assert "".join(tokens) == response.choices[0].text


SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (
            "chat",
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 7}}}},
            "response_format",
        ),
        (
            "chat",
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "x",
                        "schema": {"type": "object", "properties": {"a": {"minimum": "zero"}}},
                    },
                }
            },
            "response_format",
        ),
        ("chat", {"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        (
            "chat",
            {"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}},
            "response_format.json_schema.name",
        ),
        (
            "chat",
            {"response_format": {"type": "json_schema", "json_schema": {"name": "a b", "schema": SCHEMA}}},
            "response_format.json_schema.name",
        ),
        (
            "chat",
            {"response_format": {"type": "json_object", "json_schema": {"name": "x", "schema": SCHEMA}}},
            "response_format.json_schema",
        ),
        ("chat", {"response_format": {"type": "xml"}}, "response_format.type"),
        ("completions", {"logprobs": 6}, "logprobs"),
        ("completions", {"n": 2, "best_of": 3}, "best_of"),
        ("completions", {"echo": True}, "echo"),
    ],
)
def test_bad_formats_are_400s_naming_the_field(server: str, path: str, body: dict[str, Any], param: str) -> None:
    if path == "chat":
        request = {"model": MODEL, "messages": ASK, **body}
        response = httpx.post(f"{server}/v1/chat/completions", json=request, timeout=30)
    else:
        response = httpx.post(f"{server}/v1/completions", json={"model": MODEL, "prompt": "Hi", **body}, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
