"""How fast llama.cpp itself evaluates tokens on this machine, with no server in front: the ceiling every server
that runs the same llama.cpp shares.

Eight sequences decode together, as in the engine benchmark's 8-concurrent scenario. Each step evaluates m
tokens per sequence (m = 1 is plain decoding; m > 1 is what speculative decoding would verify per step), with
logits for every token. If tokens evaluated per second stays flat as m grows, a decode step is bound by the
arithmetic of the kernels, not by the weights' memory traffic or by per-step overhead: no scheduler, in Python
or C++, can then make 8-sequence decoding much faster than this figure.

    .venv/bin/python bench/decode_ceiling.py [--threads 2] [--steps 24]
"""

from __future__ import annotations

import argparse
import statistics
import time

import llama_cpp

from enclave.engines.catalog import default_model_path
from enclave.engines.llamacpp.model import LlamaModel

SEQUENCES = 8
CONTEXT_PER_SEQUENCE = 512


def step_ms(
    ctx: llama_cpp.llama_context_p, batch: llama_cpp.llama_batch, per_sequence: int, steps: int, sequences: int
) -> float:
    """Median milliseconds of one llama_decode over sequences × per_sequence new tokens, from an empty cache."""
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
    timings = []
    for step in range(steps + 2):  # two warm-up steps
        n = 0
        for seq in range(sequences):
            for i in range(per_sequence):
                batch.token[n] = 1000 + (7 * seq + 13 * step + i) % 20000
                batch.pos[n] = step * per_sequence + i
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = seq
                batch.logits[n] = True
                n += 1
        batch.n_tokens = n
        t0 = time.perf_counter()
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        if step >= 2:
            timings.append(1000 * (time.perf_counter() - t0))
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=24)
    args = parser.parse_args()
    model = LlamaModel(default_model_path())  # enclave's own loader: backend set up, llama.cpp's log quiet
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = CONTEXT_PER_SEQUENCE * SEQUENCES
    params.n_batch = params.n_ubatch = 512
    params.n_seq_max = SEQUENCES
    params.n_threads = params.n_threads_batch = args.threads
    params.kv_unified = False  # as enclave's engine and llama-server with -np 8 run it
    ctx = llama_cpp.llama_init_from_model(model.ptr, params)
    batch = llama_cpp.llama_batch_init(512, 0, 1)
    print(f"{default_model_path().name}, {args.threads} threads, median of {args.steps} steps")
    print(f"{'sequences':>9} {'tokens/seq/step':>16} {'ms/step':>9} {'evaluated tok/s':>16} {'generated tok/s':>16}")
    for sequences, per_sequence in ((1, 1), (8, 1), (8, 2), (8, 4), (8, 8)):
        ms = step_ms(ctx, batch, per_sequence, args.steps, sequences)
        evaluated = sequences * per_sequence / ms * 1000
        print(f"{sequences:>9} {per_sequence:>16} {ms:>9.1f} {evaluated:>16.1f} {sequences / ms * 1000:>16.1f}")
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    model.close()


if __name__ == "__main__":
    main()
