"""The embedded engine on its own: batching, prefix reuse, cancellation and back-pressure, no HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from enclave.config import ModelConfig
from enclave.engines.base import ChatMessage, GenerationRequest, SamplingParams
from enclave.engines.llamacpp.engine import EmbeddedEngine
from enclave.errors import EngineOverloaded
from tests.waiting import wait_until_async

GREEDY = SamplingParams(temperature=0)
SYSTEM = "You are a careful assistant for a hospital's records office. " * 20


def chat(text: str, system: str | None = None, **kw: object) -> GenerationRequest:
    messages = ((ChatMessage("system", system),) if system else ()) + (ChatMessage("user", text),)
    return GenerationRequest(messages=messages, sampling=GREEDY, **kw)  # type: ignore[arg-type]


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


async def collect(engine: EmbeddedEngine, request: GenerationRequest) -> tuple[str, object]:
    parts, last = [], None
    async for delta in await engine.submit(request):
        parts.append(delta.text)
        last = delta
    return "".join(parts), last


def test_decoding_runs_in_a_worker_thread_not_the_main_one(make_engine) -> None:
    # llama.cpp built with AMX crashes exactly here (decode outside the main thread): this must just work.
    engine = make_engine(parallel=2)
    workers = [t for t in threading.enumerate() if t.name == "engine:smollm2-135m"]
    assert workers and all(t is not threading.main_thread() for t in workers)
    text, last = asyncio.run(collect(engine, chat("Say hello.", max_tokens=16)))
    assert text and last.usage.completion_tokens > 0


def test_shared_prefix_is_reused_with_identical_output(make_engine) -> None:
    engine = make_engine(parallel=2)

    async def run() -> None:
        first, first_last = await collect(engine, chat("Name a colour.", SYSTEM, max_tokens=20))
        again, again_last = await collect(engine, chat("Name a colour.", SYSTEM, max_tokens=20))
        other, other_last = await collect(engine, chat("Name an animal.", SYSTEM, max_tokens=20))
        assert again == first
        assert first_last.usage.cached_tokens == 0
        assert again_last.usage.cached_tokens == again_last.usage.prompt_tokens - 1
        # A different question after the same system prompt still reuses the system prompt.
        assert other_last.usage.cached_tokens > 200
        cold = make_engine(parallel=1)
        assert (await collect(cold, chat("Name an animal.", SYSTEM, max_tokens=20)))[0] == other

    asyncio.run(run())
    stats = engine.stats()
    assert stats["prefix_hits"] == 2 and stats["cached_prompt_tokens"] > 400


def test_prefix_is_copied_from_a_busy_sequence(make_engine) -> None:
    engine = make_engine(parallel=2)

    async def run() -> None:
        long_running = await engine.submit(chat("Tell a long story.", SYSTEM, max_tokens=300, ignore_eos=True))
        stream = long_running.__aiter__()
        await stream.__anext__()  # its prompt is in the cache now
        text, last = await collect(engine, chat("Name a colour.", SYSTEM, max_tokens=20))
        assert last.usage.cached_tokens > 200
        await stream.aclose()
        reference = make_engine(parallel=1)
        assert (await collect(reference, chat("Name a colour.", SYSTEM, max_tokens=20)))[0] == text

    asyncio.run(run())


def test_cancelled_generation_frees_its_slot_for_the_next_request(make_engine) -> None:
    engine = make_engine(parallel=1, queue=1)

    async def run() -> None:
        generation = await engine.submit(chat("Tell a long story.", max_tokens=900, ignore_eos=True))
        stream = generation.__aiter__()
        await stream.__anext__()
        waiting = asyncio.ensure_future(collect(engine, chat("Say hi.", max_tokens=8)))
        await wait_until_async(lambda: engine.stats()["queue_depth"] == 1, message="the second request queued")
        assert not waiting.done()  # the only slot is taken
        await stream.aclose()  # the client went away
        text, last = await asyncio.wait_for(waiting, 60)
        assert last.finish_reason in ("stop", "length") and text

    asyncio.run(run())


def test_full_queue_refuses_with_overloaded(make_engine) -> None:
    engine = make_engine(parallel=1, queue=1)

    async def run() -> None:
        running = await engine.submit(chat("Tell a long story.", max_tokens=300, ignore_eos=True))
        queued = await engine.submit(chat("Say hi.", max_tokens=4))
        with pytest.raises(EngineOverloaded) as caught:
            await engine.submit(chat("Say hi.", max_tokens=4))
        assert caught.value.status == 429 and caught.value.retry_after >= 1
        running.cancel()
        async for _ in queued:
            pass

    asyncio.run(run())


def test_long_prompt_does_not_stop_running_streams(make_engine) -> None:
    engine = make_engine(parallel=4, prefill_chunk=128)
    long_prompt = "Summarise the following notes. " + "The ward round found nothing unusual today. " * 80

    async def run() -> None:
        streams = [await engine.submit(chat(f"Count to {n}.", max_tokens=400, ignore_eos=True)) for n in (50, 60)]
        counts = [0, 0]
        during: list[int] = []
        started = asyncio.Event()

        async def drain(i: int, stream: AsyncIterator) -> None:
            async for _ in stream:
                counts[i] += 1
                if counts[i] == 5:
                    started.set()

        tasks = [asyncio.ensure_future(drain(i, s)) for i, s in enumerate(streams)]
        await started.wait()
        before = list(counts)
        long_generation = await engine.submit(chat(long_prompt, max_tokens=4))
        assert long_generation.prompt_tokens > 600  # needs at least 5 prefill chunks
        async for _ in long_generation:
            during = [c - b for c, b in zip(counts, before, strict=True)]
            break
        # Each prefill chunk shares its decode step with the running streams: they kept flowing.
        assert all(n >= 4 for n in during), during
        for stream in streams:
            stream.cancel()
        for task in tasks:
            task.cancel()

    asyncio.run(run())
