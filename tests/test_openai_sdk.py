"""The official openai SDK, unchanged, against a real enclave server on the real default model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import openai
import pytest

from enclave.engines.llamacpp.model import LlamaModel

MODEL = "smollm2-135m"
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)


@pytest.fixture
def async_client(server: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)


def test_models_list_names_the_default_model(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == [MODEL]
    assert client.models.retrieve("default").id == MODEL


def test_sync_chat_completion_returns_text_and_usage(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=20, temperature=0)
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert response.usage.prompt_tokens > 5
    assert 0 < response.usage.completion_tokens <= 20
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert response.model == MODEL


def test_alias_answers_under_the_model_name(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(model="default", messages=HELLO, max_tokens=4)
    assert response.model == MODEL


def test_async_chat_completion(async_client: openai.AsyncOpenAI) -> None:
    async def run() -> str:
        response = await async_client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=16)
        return response.choices[0].message.content

    assert asyncio.run(run()).strip()


def test_streaming_chat_yields_deltas_then_finish_and_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=24,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(texts) > 1
    assert finishes == [finishes[0]] and finishes[0] in ("stop", "length")
    assert (chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(texts)) or chunks[-1].usage
    whole = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=24, temperature=0)
    assert "".join(texts) == whole.choices[0].message.content


def test_async_streaming(async_client: openai.AsyncOpenAI) -> None:
    async def run() -> list[str]:
        stream = await async_client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=12, stream=True)
        return [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]

    assert len(asyncio.run(run())) >= 1


def test_max_tokens_ends_with_length(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Write a long essay about the sea."}],
        max_completion_tokens=7,
        extra_body={"ignore_eos": True},
    )
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 7


def test_stop_sequence_cuts_the_text_before_it(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]
    free = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=60, temperature=0)
    text = free.choices[0].message.content
    assert "5" in text, text
    stop = "5"
    cut = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=60, temperature=0, stop=[stop])
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].message.content == text[: text.index(stop)]


def test_stop_sequence_while_streaming(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]
    free = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=60, temperature=0)
    text = free.choices[0].message.content
    stop = "\n6. 6"  # spans several tokens: the matcher must hold back the partial match
    assert stop in text, text
    stream = client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=60, temperature=0, stop=stop, stream=True
    )
    chunks = [c for c in stream if c.choices]
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == text[: text.index(stop)]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_same_seed_same_text_different_seed_differs(client: openai.OpenAI) -> None:
    def sample(seed: int) -> str:
        response = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Tell me a story."}],
            max_tokens=40,
            temperature=1.0,
            top_p=1.0,
            seed=seed,
            extra_body={"ignore_eos": True, "top_k": 0, "min_p": 0.0},
        )
        return response.choices[0].message.content

    first = sample(1234)
    assert sample(1234) == first
    assert any(sample(seed) != first for seed in (1, 2, 3))


def test_sampling_parameters_are_accepted(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=8,
        temperature=0.7,
        top_p=0.9,
        presence_penalty=0.5,
        frequency_penalty=0.5,
        seed=7,
        extra_body={"top_k": 20, "min_p": 0.1, "repeat_penalty": 1.1},
    )
    assert response.choices[0].message.content


def test_logit_bias_forces_and_bans_tokens(client: openai.OpenAI, model_path: Path) -> None:
    model = LlamaModel(model_path)
    (equals,) = model.tokenize("=", add_bos=False)
    forced = client.chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=5, logit_bias={str(equals): 100}, extra_body={"ignore_eos": True}
    )
    assert forced.choices[0].message.content == "=" * 5
    free = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=1, temperature=0)
    first = free.choices[0].message.content
    token = model.tokenize(first, add_bos=False)[0]
    model.close()
    banned = client.chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=1, temperature=0, logit_bias={str(token): -100}
    )
    assert banned.choices[0].message.content != first


def test_text_completion_endpoint(client: openai.OpenAI) -> None:
    response = client.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0)
    assert response.choices[0].text.strip()
    assert response.usage.completion_tokens <= 8
    stream = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0, stream=True
    )
    assert "".join(c.choices[0].text for c in stream if c.choices) == response.choices[0].text


def test_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-17", messages=HELLO)
    assert caught.value.code == "model_not_found"
    assert "gpt-17" in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"messages": HELLO},  # no model
        {"model": MODEL, "messages": []},
        {"model": MODEL, "messages": [{"role": "wizard", "content": "hi"}]},
        {"model": MODEL, "messages": HELLO, "temperature": 7},
        {"model": MODEL, "messages": HELLO, "max_tokens": 0},
        {"model": MODEL, "messages": HELLO, "logit_bias": {"not-a-token": 1}},
        {"model": MODEL, "messages": HELLO, "frobnicate": True},
        {"model": MODEL, "messages": HELLO, "n": 0},
        {"model": MODEL, "messages": HELLO, "tools": [{"type": "function", "function": {"description": "no name"}}]},
        {"model": MODEL, "messages": HELLO, "logit_bias": {"999999999": 5}},
    ],
)
def test_malformed_bodies_are_bad_requests(client: openai.OpenAI, body: dict) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/chat/completions", body=body, cast_to=httpx.Response)
    assert caught.value.status_code == 400
    assert caught.value.body["type"] == "invalid_request_error"


def test_broken_json_is_a_bad_request(server: str) -> None:
    response = httpx.post(f"{server}/v1/chat/completions", content=b'{"model": ', timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The request body is not valid JSON."


def test_over_long_prompt_is_400_naming_both_numbers(client: openai.OpenAI) -> None:
    long_text = "word " * 3000
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": long_text}])
    assert caught.value.code == "context_length_exceeded"
    assert "1024" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=5000)
    assert caught.value.code == "context_length_exceeded"


def test_metrics_count_requests_tokens_and_latency(client: openai.OpenAI, server: str) -> None:
    client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=3)
    text = httpx.get(f"{server}/metrics", timeout=10).text
    for series in (
        'enclave_requests_total{endpoint="chat",model="smollm2-135m",status="ok"}',
        'enclave_tokens_total{kind="completion",model="smollm2-135m"}',
        "enclave_request_duration_seconds_bucket",
        "enclave_time_to_first_token_seconds_bucket",
        'enclave_engine_active_sequences{model="smollm2-135m"}',
        "enclave_engine_queue_depth",
        "enclave_engine_prefix_cache_hits_total",
    ):
        assert series in text, series
