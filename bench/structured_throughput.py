"""What constrained decoding costs: tokens/s with a JSON Schema enforced vs the same requests unconstrained, and
llguidance (what enclave uses) vs llama.cpp's own grammar sampler, in one run.

All variants go through the embedded engine's scheduler (same batching, same model, no HTTP), 1 and 8
concurrent sequences, temperature 0, each answer exactly ``--tokens`` tokens long: the schema asks for more
items than fit, so no constrained answer ends early and every variant keeps the same batch occupancy.

- plain: no constraint (end of sequence ignored);
- replay: no constraint either, but the model's greedy pick replaced by the tokens llguidance's answer to the
  same prompt had (the sampler chain still runs, for its cost): the same text as the constrained answer,
  decoded unconstrained. A decode step's time depends on what is decoded (measured: ±30% between prose and
  JSON, and between runs), so this is the like-for-like baseline of the constraint's cost;
- llguidance: ``response_format: json_schema``, as a client sends it (masks computed per step for all
  constrained sequences at once, applied to the logits before llama.cpp samples);
- gbnf chain: llama.cpp's grammar sampler (``llama_sampler_init_grammar``) ahead of greedy in the sampler chain,
  on the GBNF that llama-cpp-python's converter makes of the same schema;
- gbnf check-first: the same grammar, as llama.cpp's own ``common_sampler`` uses it: sample from the raw logits,
  ask the grammar about that one token, and mask the whole vocabulary only when it is refused.

Then the constraint's own work per token, apart from decoding (one sequence, the tokens of one valid answer
fed in turn, median microseconds): llguidance's mask, its application to the logits and the token's
acceptance; the grammar sampler over the whole vocabulary; the grammar asked about one token.

Rounds alternate the order of the variants; ratios to plain are taken per round, medians printed. Besides
tokens/s (wall clock), each variant's CPU time per generated token is printed (the whole process: the
scheduler, llama.cpp's threads, llguidance's): on a machine shared with other work, wall-clock ratios wander
with the neighbours' load, while CPU per token says what the variant itself costs.

    .venv/bin/python bench/structured_throughput.py [--threads 2] [--rounds 3] [--tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import llama_grammar
from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

from enclave.config import ModelConfig
from enclave.engines.base import ChatMessage, GenerationRequest, ResponseFormat, SamplingParams
from enclave.engines.catalog import default_model_path
from enclave.engines.llamacpp.constraint import TokenConstraint
from enclave.engines.llamacpp.engine import EmbeddedEngine, EmbeddedGeneration
from enclave.engines.llamacpp.model import LlamaModel
from enclave.engines.llamacpp.sampling import SamplerChain
from enclave.engines.llamacpp.sequence import Sequence
from enclave.engines.structured.answer import ShapedAnswer
from enclave.engines.structured.plan import plan_answer

SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 24},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "role": {"enum": ["admin", "user", "guest"]},
        },
        "required": ["name", "age", "role"],
        "additionalProperties": False,
    },
    "minItems": 60,  # far more than fit in the token budget: every answer runs to max_tokens
    "maxItems": 80,
}
PROMPTS = [f"List the {what} as a JSON array of people." for what in
           ("staff of a bakery", "members of a choir", "players of a team", "guests at a wedding",
            "crew of a ship", "residents of a street", "students of a class", "volunteers of a library")]  # fmt: skip
GREEDY = SamplingParams(temperature=0)


class Recording:
    """Samples with a chain and keeps the tokens picked."""

    def __init__(self, chain: SamplerChain) -> None:
        self._chain = chain
        self.tokens: list[int] = []

    def sample(self, ctx: llama_cpp.llama_context_p, index: int) -> int:
        self.tokens.append(self._chain.sample(ctx, index))
        return self.tokens[-1]

    def close(self) -> None:
        self._chain.close()


class Replay:
    """Runs a chain for its cost, then answers with the given tokens instead of its pick."""

    def __init__(self, chain: SamplerChain, tokens: list[int]) -> None:
        self._chain = chain
        self._tokens = iter(tokens)

    def sample(self, ctx: llama_cpp.llama_context_p, index: int) -> int:
        self._chain.sample(ctx, index)
        return next(self._tokens)

    def close(self) -> None:
        self._chain.close()


class GbnfSampler:
    """llama.cpp's grammar sampler in place of an engine sampler chain (same ``sample``/``close`` interface)."""

    def __init__(self, model: LlamaModel, gbnf: str, check_first: bool) -> None:
        self._grammar = llama_cpp.llama_sampler_init_grammar(model.vocab, gbnf.encode(), b"root")
        self._check_first = check_first
        self._chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if not check_first:
            llama_cpp.llama_sampler_chain_add(self._chain, self._grammar)
        llama_cpp.llama_sampler_chain_add(self._chain, llama_cpp.llama_sampler_init_greedy())
        self._n_vocab = model.n_vocab
        self._one = (llama_cpp.llama_token_data * 1)()
        self._full = (llama_cpp.llama_token_data * model.n_vocab)()
        self._view = np.frombuffer(self._full, dtype=np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")]))
        self._view["id"] = np.arange(model.n_vocab, dtype=np.int32)

    def sample(self, ctx: llama_cpp.llama_context_p, index: int) -> int:
        if not self._check_first:
            return int(llama_cpp.llama_sampler_sample(self._chain, ctx, index))  # applies and accepts the grammar
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, index), shape=(self._n_vocab,))
        token = int(logits.argmax())
        self._one[0].id, self._one[0].logit, self._one[0].p = token, float(logits[token]), 0.0
        if not self._apply(self._one, 1):
            self._view["logit"] = logits
            self._apply(self._full, self._n_vocab)
            token = int(self._view["id"][int(self._view["logit"].argmax())])
        llama_cpp.llama_sampler_accept(self._grammar, token)
        return token

    def _apply(self, data: ctypes.Array, size: int) -> bool:
        """Apply the grammar to ``data``; whether its first candidate survived."""
        array = llama_cpp.llama_token_data_array(data, size, -1, False)
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(array))
        return bool(np.isfinite(data[0].logit))

    def close(self) -> None:
        llama_cpp.llama_sampler_free(self._chain)
        if self._check_first:
            llama_cpp.llama_sampler_free(self._grammar)


def constraint_cost(engine: EmbeddedEngine) -> dict[str, float]:
    """Median microseconds of each constraint's work per token, teacher-forced through one valid answer."""
    people = [{"name": f"Person {i}", "age": 20 + i, "role": "user"} for i in range(60)]
    tokens = engine.model.tokenize(json.dumps(people), add_bos=False)
    n_vocab = engine.model.n_vocab
    logits = np.random.default_rng(0).standard_normal(n_vocab).astype(np.float32)
    costs: dict[str, list[float]] = {"llguidance": [], "gbnf chain": [], "gbnf check-first": []}

    plan = plan_answer(request("", 1, True))
    assert plan is not None
    matcher = engine.grammars.compile(plan.grammar, plan.param).deep_copy()
    bitmask = allocate_token_bitmask(1, n_vocab)
    for token in tokens:  # what TokenConstraint and MaskBatch do, on a copy of some logits
        started = time.perf_counter()
        fill_next_token_bitmask(matcher, bitmask, 0)
        row = logits.copy()
        allowed = np.unpackbits(bitmask[0].view(np.uint8), bitorder="little", count=n_vocab).view(bool)
        np.copyto(row, np.float32(-np.inf), where=~allowed)
        assert matcher.consume_token(token)
        costs["llguidance"].append(time.perf_counter() - started)

    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(SCHEMA)).encode()
    for name, size in (("gbnf chain", n_vocab), ("gbnf check-first", 1)):
        grammar = llama_cpp.llama_sampler_init_grammar(engine.model.vocab, gbnf, b"root")
        data = (llama_cpp.llama_token_data * size)()
        view = np.frombuffer(data, dtype=np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")]))
        for token in tokens:
            started = time.perf_counter()
            view["id"] = np.arange(n_vocab, dtype=np.int32) if size > 1 else token
            view["logit"] = logits if size > 1 else logits[token]
            llama_cpp.llama_sampler_apply(
                grammar, ctypes.byref(llama_cpp.llama_token_data_array(data, size, -1, False))
            )
            assert np.isfinite(view["logit"][token if size > 1 else 0])
            llama_cpp.llama_sampler_accept(grammar, token)
            costs[name].append(time.perf_counter() - started)
        llama_cpp.llama_sampler_free(grammar)
    return {name: 1e6 * statistics.median(values) for name, values in costs.items()}


def request(prompt: str, tokens: int, constrained: bool) -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage("user", prompt),),
        sampling=GREEDY,
        max_tokens=tokens,
        ignore_eos=not constrained,
        response_format=ResponseFormat("json_schema", SCHEMA, "people", True) if constrained else ResponseFormat(),
    )


def greedy(engine: EmbeddedEngine) -> SamplerChain:
    return SamplerChain(GREEDY, engine.config.sampling, engine.model.n_vocab)


def generation_of(engine: EmbeddedEngine, prompt: str, sampler: object, tokens: int, **kw: Any) -> EmbeddedGeneration:
    """A generation of one sequence built here, with a sampler of the benchmark's, run by the engine's scheduler."""
    tokens_in = engine.prompt_tokens(request(prompt, tokens, False))
    generation = EmbeddedGeneration(engine.scheduler, len(tokens_in))
    sequence = Sequence(tokens_in, sampler, max_tokens=tokens, stop=(), sink=generation.deliver, **kw)  # type: ignore[arg-type]
    generation.sequences.append(sequence)
    engine.scheduler.submit(sequence)
    return generation


async def constrained_tokens(engine: EmbeddedEngine, tokens: int) -> dict[str, list[int]]:
    """The tokens of llguidance's answer to each prompt."""
    plan = plan_answer(request("", tokens, True))
    assert plan is not None
    grammar = engine.grammars.compile(plan.grammar, plan.param)
    recordings = {}
    for prompt in PROMPTS:
        recordings[prompt] = Recording(greedy(engine))
        constraint = TokenConstraint(grammar.deep_copy(), engine.model.n_vocab)
        generation = generation_of(
            engine,
            prompt,
            recordings[prompt],
            tokens,
            ignore_eos=False,
            constraint=constraint,
            answer=ShapedAnswer(plan),
        )
        async for _ in generation:
            pass
    return {prompt: recording.tokens for prompt, recording in recordings.items()}


async def gbnf_generation(engine: EmbeddedEngine, prompt: str, tokens: int, check_first: bool) -> EmbeddedGeneration:
    """A generation whose one sequence samples with llama.cpp's grammar sampler, through the same scheduler."""
    sampler = GbnfSampler(engine.model, llama_grammar.json_schema_to_gbnf(json.dumps(SCHEMA)), check_first)
    return generation_of(engine, prompt, sampler, tokens, ignore_eos=False)


async def throughput(start: Callable[[str], object], concurrency: int) -> tuple[float, float]:
    """Tokens per second and CPU milliseconds per token of ``concurrency`` answers generated together."""

    async def one(prompt: str) -> int:
        generation = await start(prompt)  # type: ignore[misc]
        last = None
        async for delta in generation:
            last = delta
        assert last is not None and last.usage is not None and last.finish_reason == "length", last
        return last.usage.completion_tokens

    started, cpu = time.perf_counter(), time.process_time()
    tokens = sum(await asyncio.gather(*(one(p) for p in PROMPTS[:concurrency])))
    return tokens / (time.perf_counter() - started), 1e3 * (time.process_time() - cpu) / tokens


async def measure(engine: EmbeddedEngine, tokens: int, rounds: int) -> None:
    answers = await constrained_tokens(engine, tokens)

    async def replay(prompt: str) -> EmbeddedGeneration:
        return generation_of(engine, prompt, Replay(greedy(engine), answers[prompt]), tokens, ignore_eos=True)

    variants: dict[str, Callable[[str], object]] = {
        "plain": lambda p: engine.submit(request(p, tokens, False)),
        "replay": replay,
        "llguidance": lambda p: engine.submit(request(p, tokens, True)),
        "gbnf chain": lambda p: gbnf_generation(engine, p, tokens, check_first=False),
        "gbnf check-first": lambda p: gbnf_generation(engine, p, tokens, check_first=True),
    }
    # Warm up: the llguidance tokenizer, the compiled grammar, the prompts' cached prefixes.
    for start in variants.values():
        await throughput(start, 1)
    print(f"{'sequences':>9}  {'variant':<18} {'tokens/s':>9} {'vs plain':>9} {'vs replay':>10} {'CPU ms/token':>13}")
    for concurrency in (1, 8):
        figures: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in variants}
        for r in range(rounds):
            order = list(variants) if r % 2 == 0 else list(reversed(variants))
            measured = {name: await throughput(variants[name], concurrency) for name in order}
            for name, (rate, cpu) in measured.items():
                figures[name].append((rate, rate / measured["plain"][0], rate / measured["replay"][0], cpu))
        for name, rows in figures.items():
            rate, to_plain, to_replay, cpu = (statistics.median(column) for column in zip(*rows, strict=True))
            print(f"{concurrency:>9}  {name:<18} {rate:>9.1f} {to_plain:>8.2f}x {to_replay:>9.2f}x {cpu:>13.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    config = ModelConfig(name="smollm2-135m", context=2048, threads=args.threads, parallel=8, queue=8)
    engine = EmbeddedEngine(config, default_model_path(), "bench")
    try:
        asyncio.run(measure(engine, args.tokens, args.rounds))
        print("\nconstraint work per token, apart from decoding (median µs, one sequence):")
        for name, micros in constraint_cost(engine).items():
            print(f"  {name:<18} {micros:>9.0f}")
    finally:
        asyncio.run(engine.close())


if __name__ == "__main__":
    main()
