"""Several choices (``n``) and logprobs on the embedded engine, with the real default model and no HTTP."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.config import ModelConfig
from enclave.engines.base import ChatMessage, Delta, GenerationRequest, SamplingParams
from enclave.engines.llamacpp.engine import EmbeddedEngine
from enclave.errors import EngineOverloaded, InvalidRequest

GREEDY = SamplingParams(temperature=0)
SYSTEM = "You are a careful assistant for a hospital's records office. " * 20


def chat(text: str, system: str | None = None, **kw: object) -> GenerationRequest:
    messages = ((ChatMessage("system", system),) if system else ()) + (ChatMessage("user", text),)
    kw.setdefault("sampling", GREEDY)
    return GenerationRequest(messages=messages, **kw)  # type: ignore[arg-type]


@pytest.fixture
def make_engine(model_path: Path) -> Iterator:
    engines: list[EmbeddedEngine] = []

    def make(**settings: object) -> EmbeddedEngine:
        config = ModelConfig(name="smollm2-135m", context=1024, threads=2, **settings)  # type: ignore[arg-type]
        engines.append(EmbeddedEngine(config, model_path, "test"))
        return engines[-1]

    yield make
    for engine in engines:
        asyncio.run(engine.close())


def run(engine: EmbeddedEngine, request: GenerationRequest) -> list[Delta]:
    async def go() -> list[Delta]:
        return [delta async for delta in await engine.submit(request)]

    return asyncio.run(go())


def texts(deltas: list[Delta]) -> dict[int, str]:
    out: dict[int, str] = {}
    for delta in deltas:
        out[delta.choice] = out.get(delta.choice, "") + delta.text
    return out


def entries(deltas: list[Delta], choice: int = 0) -> list[dict]:
    return [entry for delta in deltas if delta.choice == choice for entry in delta.logprobs or ()]


def test_three_choices_each_end_and_the_last_delta_sums_their_usage(make_engine) -> None:
    engine = make_engine(parallel=2, queue=2)  # the third choice waits for a free sequence like any request
    request = chat("Tell a story.", max_tokens=12, ignore_eos=True, n=3, sampling=SamplingParams(temperature=1.0))
    deltas = run(engine, request)

    assert {d.choice for d in deltas} == {0, 1, 2}
    for choice in range(3):
        mine = [d for d in deltas if d.choice == choice]
        assert [d.finish_reason for d in mine] == [None] * (len(mine) - 1) + ["length"]
    assert all(d.usage is None for d in deltas[:-1])
    usage = deltas[-1].usage
    assert usage is not None and usage.completion_tokens == 3 * 12
    assert usage.prompt_tokens == len(engine.prompt_tokens(request))  # the shared prompt counts once
    assert usage.cached_tokens <= usage.prompt_tokens and usage.compute_seconds > 0


def test_followers_copy_the_prompt_the_first_choice_evaluated(make_engine) -> None:
    engine = make_engine(parallel=4)
    request = chat("Name a colour.", SYSTEM, max_tokens=16, n=3)
    prompt = len(engine.prompt_tokens(request))
    deltas = run(engine, request)

    stats = engine.stats()
    assert stats["prompt_tokens"] == 3 * prompt
    # The leader evaluated the prompt; each follower copied all of it but the last token, whose logits it needs.
    assert stats["cached_prompt_tokens"] == 2 * (prompt - 1) and stats["prefix_hits"] == 2
    assert deltas[-1].usage.prompt_tokens == prompt and deltas[-1].usage.cached_tokens == 0
    # Greedy choices are the same answer, and the same as the request alone on a cold engine.
    alone = texts(run(make_engine(parallel=1), chat("Name a colour.", SYSTEM, max_tokens=16)))[0]
    assert set(texts(deltas).values()) == {alone}


def test_seeded_choices_differ_and_the_request_repeats(make_engine) -> None:
    engine = make_engine(parallel=4)
    sampling = SamplingParams(temperature=1.0, seed=1234)
    request = chat("Write a line of a poem about the sea.", max_tokens=24, ignore_eos=True, n=3, sampling=sampling)

    first, again = texts(run(engine, request)), texts(run(engine, request))
    assert first == again
    assert len(set(first.values())) > 1
    # Choice i is sampled with seed + i: the same as a single request with that seed.
    single = chat(
        "Write a line of a poem about the sea.",
        max_tokens=24,
        ignore_eos=True,
        sampling=SamplingParams(temperature=1.0, seed=1235),
    )
    assert texts(run(engine, single))[0] == first[1]


def test_greedy_logprobs_describe_each_generated_token(make_engine) -> None:
    engine = make_engine(parallel=2)
    request = chat("Name three fruits.", max_tokens=24, logprobs=True, top_logprobs=5)
    deltas = run(engine, request)
    content = entries(deltas)

    assert len(content) == deltas[-1].usage.completion_tokens > 0
    for entry in content:
        assert entry["logprob"] <= 0
        assert bytes(entry["bytes"]).decode("utf-8", errors="backslashreplace") == entry["token"]
        top = entry["top_logprobs"]
        assert len(top) == 5
        assert [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)
        # At temperature 0 the chosen token is the model's most likely one.
        assert (top[0]["token"], top[0]["logprob"]) == (entry["token"], entry["logprob"])
        assert sum(math.exp(t["logprob"]) for t in top) <= 1 + 1e-5
    # The tokens' bytes are the answer's text, a character split across tokens included.
    assert b"".join(bytes(e["bytes"]) for e in content).decode(errors="replace") == texts(deltas)[0]


def test_streamed_and_whole_answers_carry_the_same_logprobs(make_engine) -> None:
    engine = make_engine(parallel=2)
    streamed = run(engine, chat("Name three fruits.", max_tokens=24, logprobs=True, top_logprobs=2))
    whole = run(engine, chat("Name three fruits.", max_tokens=24, logprobs=True, top_logprobs=2, stream=False))

    assert len(whole) == 1 and whole[0].finish_reason is not None
    # A streamed delta carries the entries of its own tokens, so they never run ahead of the text.
    assert sum(len(d.logprobs) for d in streamed) == len(entries(streamed)) and len(streamed) > 1
    assert [e["token"] for e in entries(whole)] == [e["token"] for e in entries(streamed)]
    assert [e["logprob"] for e in entries(whole)] == pytest.approx([e["logprob"] for e in entries(streamed)])


def test_each_choice_has_its_own_logprobs_and_none_are_computed_unasked(make_engine) -> None:
    engine = make_engine(parallel=2)
    sampling = SamplingParams(temperature=1.0, seed=7)
    deltas = run(engine, chat("Tell a story.", max_tokens=10, n=2, logprobs=True, sampling=sampling))

    assert len(entries(deltas, 0)) + len(entries(deltas, 1)) == deltas[-1].usage.completion_tokens
    for choice in (0, 1):
        content = entries(deltas, choice)
        assert content and all(e["top_logprobs"] == [] and e["logprob"] <= 0 for e in content)
        assert b"".join(bytes(e["bytes"]) for e in content).decode(errors="replace") == texts(deltas)[choice]
    plain = run(engine, chat("Tell a story.", max_tokens=4))
    assert all(d.logprobs is None for d in plain)


def test_cancelling_the_generation_frees_every_choice(make_engine) -> None:
    engine = make_engine(parallel=4)

    async def go() -> None:
        generation = await engine.submit(chat("Tell a long story.", max_tokens=600, ignore_eos=True, n=3))
        stream = generation.__aiter__()
        await stream.__anext__()
        await stream.aclose()  # the client went away
        deadline = time.monotonic() + 30
        while engine.stats()["active_sequences"] + engine.stats()["queue_depth"] > 0:
            assert time.monotonic() < deadline, engine.stats()
            await asyncio.sleep(0.05)

    asyncio.run(go())


def test_choices_are_admitted_together_or_refused(make_engine) -> None:
    engine = make_engine(parallel=1, queue=2)

    async def go() -> None:
        with pytest.raises(InvalidRequest) as too_many:
            await engine.submit(chat("Say hi.", n=4))  # more than the engine could ever hold at once
        assert too_many.value.param == "n" and too_many.value.status == 400
        running = await engine.submit(chat("Tell a long story.", max_tokens=300, ignore_eos=True))
        with pytest.raises(EngineOverloaded):
            await engine.submit(chat("Say hi.", max_tokens=4, n=3))
        stats = engine.stats()
        # Only the running request holds a place (queued still or running): nothing of the refused one.
        assert stats["queue_depth"] + stats["active_sequences"] == 1
        queued = await engine.submit(chat("Say hi.", max_tokens=4, n=2))
        running.cancel()
        deltas = [d async for d in queued]
        assert sorted(d.choice for d in deltas if d.finish_reason) == [0, 1]

    asyncio.run(go())


def test_more_than_twenty_alternatives_are_refused(make_engine) -> None:
    engine = make_engine(parallel=1)

    async def go() -> None:
        with pytest.raises(InvalidRequest) as caught:
            await engine.submit(chat("Say hi.", logprobs=True, top_logprobs=21))
        assert caught.value.param == "top_logprobs"

    asyncio.run(go())
