"""What logprobs cost the embedded engine per generated token, on the default model.

Times ``LogprobRecorder.observe`` + ``record`` (log-softmax over the vocabulary, the top alternatives, the
entry) on a real logits row, for 0, 5 and 20 alternatives, and the decode rate of one greedy sequence with and
without logprobs, for scale.

    .venv/bin/python bench/logprobs_cost.py [--threads 2] [--tokens 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from enclave.config import ModelConfig
from enclave.engines.base import ChatMessage, GenerationRequest, SamplingParams
from enclave.engines.catalog import default_model_path
from enclave.engines.llamacpp.engine import EmbeddedEngine
from enclave.engines.llamacpp.logprobs import LogprobRecorder


async def tokens_per_second(engine: EmbeddedEngine, tokens: int, top: int | None) -> float:
    request = GenerationRequest(
        messages=(ChatMessage("user", "Tell a story."),),
        sampling=SamplingParams(temperature=0),
        max_tokens=tokens,
        ignore_eos=True,
        logprobs=top is not None,
        top_logprobs=top or 0,
    )
    started = time.perf_counter()
    async for delta in await engine.submit(request):
        last = delta
    assert last.usage is not None
    return last.usage.completion_tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()
    config = ModelConfig(name="smollm2-135m", context=1024, threads=args.threads, parallel=1)
    engine = EmbeddedEngine(config, default_model_path(), "bench")
    try:
        # Rounds interleave the three cases, so that a neighbour's load on a shared machine hits them alike.
        cases = {"no logprobs": None, "logprobs": 0, "20 alternatives": 20}
        rates: dict[str, list[float]] = {label: [] for label in cases}
        for _ in range(5):
            for label, top in cases.items():
                rates[label].append(asyncio.run(tokens_per_second(engine, args.tokens, top)))
        for label, measured in rates.items():
            print(f"decode, {label:16s} {statistics.median(measured):7.1f} tokens/s (median of 5)")
        # The context's last logits row is that of the last token decoded above: a real distribution.
        ctx = engine.scheduler._ctx
        for top in (0, 5, 20):
            recorder = LogprobRecorder(engine.pieces, engine.model.n_vocab, top)
            timings = []
            for _ in range(2000):
                started = time.perf_counter()
                recorder.observe(ctx, -1)
                recorder.record(42)
                timings.append(time.perf_counter() - started)
            print(
                f"observe + record, top_logprobs={top:2d}: {statistics.median(timings) * 1e6:5.0f} µs "
                f"(median of 2000, vocabulary {engine.model.n_vocab})"
            )
    finally:
        asyncio.run(engine.close())


if __name__ == "__main__":
    main()
