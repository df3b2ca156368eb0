"""Embedding throughput: enclave's embedding engine vs llama.cpp's llama-server --embedding, in one run.

Same GGUF (all-MiniLM-L6-v2 as enclave converts it), same threads, each server with its defaults except that
both take inputs up to the model's 512-token window; one server at a time, so they never compete for the cores.
Two workloads: requests of 32 inputs sent one after another, and 8 concurrent callers sending one input per
request. Both peers stay up and take turns, workload by workload, so that what else runs on the machine weighs
on both alike. Prints embeddings per second and the ratio to llama-server (each round's own, median kept; and
that of the best rounds, the steadier figure on a shared machine), and how far llama-server's vectors are from
enclave's.

enclave's engine runs in-process (the HTTP endpoint comes with the gateway), llama-server over loopback HTTP:
its HTTP time is in its figures, about a millisecond per request next to 10-500 ms of compute here.

    bench/build_peers.sh                       # once: builds llama-server
    .venv/bin/python bench/embedding_throughput.py [--threads 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE.parent))  # the script's own folder is on the path already
from tests.servers import free_port  # noqa: E402

from enclave.engines.default_embedding import default_embedding_model_path  # noqa: E402
from enclave.engines.llamacpp.embedder import EmbedderSettings, LlamaEmbedder  # noqa: E402
from processes import started  # noqa: E402

REFERENCE = json.loads((HERE.parent / "tests" / "data" / "minilm_reference.json").read_text(encoding="utf-8"))
# 32 texts of 3 to 60 tokens (about 20 on average), several languages.
TEXTS = [item["text"] for item in REFERENCE["items"] if len(item["tokens"]) < 100]
TEXTS += [f"Ticket {n}: the printer on floor {n % 7} is out of toner again." for n in range(32 - len(TEXTS))]
BATCH = 32
BATCH_REQUESTS = 8
CALLERS = 8
CALLER_REQUESTS = 16
# llama-server's -b and -ub, and enclave's default: both take inputs as long as the model's window.
BATCH_TOKENS = 512

Embed = Callable[[Sequence[str]], Awaitable[np.ndarray]]


async def batches(embed: Embed) -> float:
    started = time.perf_counter()
    for _ in range(BATCH_REQUESTS):
        await embed(TEXTS)
    return BATCH * BATCH_REQUESTS / (time.perf_counter() - started)


async def callers(embed: Embed) -> float:
    async def caller(offset: int) -> None:
        for i in range(CALLER_REQUESTS):
            await embed([TEXTS[(offset + i) % len(TEXTS)]])

    started = time.perf_counter()
    await asyncio.gather(*(caller(c * 4) for c in range(CALLERS)))
    return CALLERS * CALLER_REQUESTS / (time.perf_counter() - started)


WORKLOADS = {"batch 32": batches, "8 callers": callers}


def over_http(client: httpx.AsyncClient, model: str, headers: dict[str, str] | None = None) -> Embed:
    """Embeds through an OpenAI-compatible /v1/embeddings at ``client``'s base URL (float vectors, in order)."""

    async def embed(texts: Sequence[str]) -> np.ndarray:
        response = await client.post("/v1/embeddings", json={"model": model, "input": list(texts)}, headers=headers)
        response.raise_for_status()
        data = sorted(response.json()["data"], key=lambda d: d["index"])
        return np.array([d["embedding"] for d in data], np.float32)

    return embed


@contextmanager
def llama_server(model: Path, threads: int) -> Iterator[str]:
    port = free_port()
    slots = BATCH  # a request's 32 inputs can all be evaluated together, as in enclave
    command = [
        str(WORK / "llama-server"),
        "-m",
        str(model),
        "--embedding",
        "--pooling",
        "mean",
        "-t",
        str(threads),
        "-tb",
        str(threads),
        "-np",
        str(slots),
        "-c",
        str(BATCH_TOKENS * slots),
        "-b",
        str(BATCH_TOKENS),
        "-ub",
        str(BATCH_TOKENS),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--no-webui",
    ]
    url = f"http://127.0.0.1:{port}"
    with started("llama-server-embedding", command, lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200):
        yield url


async def compare(model: Path, url: str, threads: int, rounds: int) -> tuple[dict[str, dict[str, list[float]]], ...]:
    """Both peers stay up and are measured in turn, workload by workload, so that whatever else the machine
    does in the meantime weighs on both alike (an idle peer takes no CPU)."""
    engine = LlamaEmbedder(model, name="bench", source="bench", settings=EmbedderSettings(threads=threads))

    async def ours(texts: Sequence[str]) -> np.ndarray:
        return (await engine.embed(texts)).vectors

    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        peers = {"enclave": ours, "llama-server": over_http(client, "bench")}
        rates: dict[str, dict[str, list[float]]] = {name: {} for name in peers}
        try:
            for embed in peers.values():
                await embed(TEXTS)  # warm-up
            for _ in range(rounds):
                for workload, run in WORKLOADS.items():
                    for name, embed in peers.items():
                        rates[name].setdefault(workload, []).append(await run(embed))
            texts = [item["text"] for item in REFERENCE["items"]]
            vectors = {name: await embed(texts) for name, embed in peers.items()}
        finally:
            await engine.close()
    return rates, vectors


def report(rates: dict[str, dict[str, list[float]]], heading: str) -> None:
    """Each peer's median (best) rate per workload, and the first peer's ratio to llama-server's: the median of
    each round's own ratio, and that of the best rounds."""
    print(f"{heading}: median (best)")
    print(f"{'':16}" + "".join(f"{w:>20}" for w in WORKLOADS))
    for name, figures in rates.items():
        cells = (f"{statistics.median(figures[w]):.1f} ({max(figures[w]):.1f})" for w in WORKLOADS)
        print(f"{name:16}" + "".join(f"{cell:>20}" for cell in cells))
    ours = rates[next(iter(rates))]
    ratios = {w: [a / b for a, b in zip(ours[w], rates["llama-server"][w], strict=True)] for w in WORKLOADS}
    # The best round of each is what each does when nothing else runs: on a shared machine, the steadier figure.
    best = {w: max(ours[w]) / max(rates["llama-server"][w]) for w in WORKLOADS}
    cells = (f"{statistics.median(ratios[w]):.2f}x ({best[w]:.2f}x)" for w in WORKLOADS)
    print(f"{'ratio':16}" + "".join(f"{cell:>20}" for cell in cells))
    for w in WORKLOADS:
        print(f"  ratio per round, {w}: {' '.join(f'{r:.2f}' for r in ratios[w])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not (WORK / "llama-server").exists():
        sys.exit("bench/.work/llama-server is missing: run bench/build_peers.sh first")
    model = default_embedding_model_path(WORK / "embedding-data")
    with llama_server(model, args.threads) as url:
        rates, vectors = asyncio.run(compare(model, url, args.threads, args.rounds))
    report(rates, f"embeddings/s, all-MiniLM-L6-v2 F16, {args.threads} threads, {args.rounds} rounds")
    distances = 1 - np.sum(vectors["enclave"] * vectors["llama-server"], axis=1)
    worst = int(distances.argmax())
    print(
        f"llama-server's vectors vs enclave's: median cosine distance {float(np.median(distances)):.1e}, "
        f"largest {float(distances[worst]):.1e} ({REFERENCE['items'][worst]['text'][:24]!r}: llama.cpp's tokenizer)"
    )


if __name__ == "__main__":
    main()
