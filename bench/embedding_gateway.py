"""Embeddings through enclave's HTTP endpoint vs llama-server --embedding, and the gateway's own time per request.

The workloads, the texts and llama-server's settings are bench/embedding_throughput.py's (requests of 32 inputs
one after another; 8 concurrent callers of one input per request; the same GGUF and threads), but enclave is
measured as clients reach it: `enclave serve` in a subprocess on a loopback port, every control on (API keys, a
project with per-minute request and token limits and a monthly budget, the privacy guard, the usage ledger with an
hourly price for the embedded engine, the audit log). Both servers stay up and take turns, workload by workload,
round by round; each round's ratio is kept and the median printed.

The gateway's own time per embedding request: single short inputs, one request at a time, alternating between
enclave over HTTP and enclave's engine in this process (same GGUF, threads and settings); p50 of the one minus p50
of the other, so HTTP, the client, the controls and the engine's thread hop all count as the gateway's; and the
same less a floor for this Python client alone (httpx asking llama-server's /health, answered in microseconds).
The server's own ledger gives a third figure: each request's recorded latency minus its recorded compute time
(from the pipeline's start to its end, so without HTTP parsing and JSON encoding).

    bench/build_peers.sh                       # once: builds llama-server
    .venv/bin/python bench/embedding_gateway.py [--threads 2] [--rounds 3] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the script's own folder is on the path already
from tests.servers import free_port  # noqa: E402

from embedding_throughput import TEXTS, WORK, WORKLOADS, Embed, llama_server, over_http, report  # noqa: E402
from enclave.engines.default_embedding import default_embedding_model_path  # noqa: E402
from enclave.engines.llamacpp.embedder import EmbedderSettings, LlamaEmbedder  # noqa: E402
from gateway_overhead import controlled_config  # noqa: E402
from processes import started  # noqa: E402

MODEL = "all-minilm-l6-v2"
SHORT = "The cat sat on the mat."  # 9 tokens with [CLS] and [SEP]


@contextmanager
def enclave_server(model: Path, threads: int) -> Iterator[tuple[str, str, Path]]:
    """`enclave serve` with every control on, serving ``model`` as the embedding model: its URL, a project's
    key and its SQLite store (read after it stops, once the ledger is flushed)."""
    data = WORK / "embedding-gateway"
    config, key = controlled_config(
        data,
        f"models:\n  - {{name: {MODEL}, type: embedding, path: '{model}', threads: {threads}}}\n"
        "limits: {backend: memory}\n"
        "prices: {hourly: {embedded: 1.8}}\n",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "enclave.cli.main", "serve", "--config", str(config), "--port", str(port)]
    headers = {"Authorization": f"Bearer {key}"}
    hello = {"model": MODEL, "input": "hello"}

    def ready() -> bool:
        return httpx.post(f"{url}/v1/embeddings", json=hello, headers=headers, timeout=5).status_code == 200

    with started("enclave-embedding", [*command, "--log-level", "warning"], ready):
        yield url, key, data / "enclave.db"


async def latencies(calls: dict[str, Embed], requests: int) -> dict[str, list[float]]:
    """Seconds per single-input request through each of ``calls``, taking turns request by request so that
    whatever else runs on the machine weighs on all alike."""
    series: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(requests):
        for name, call in calls.items():
            started_at = time.perf_counter()
            await call([SHORT])
            series[name].append(time.perf_counter() - started_at)
    return series


async def measure(
    model: Path, enclave: tuple[str, str], llama: str, threads: int, rounds: int, requests: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, list[float]]]:
    url, key = enclave
    engine = LlamaEmbedder(model, name="bench", source="bench", settings=EmbedderSettings(threads=threads))

    async def in_process(texts: Sequence[str]) -> np.ndarray:
        return (await engine.embed(texts)).vectors

    try:
        async with (
            httpx.AsyncClient(base_url=url, timeout=600) as ours,
            httpx.AsyncClient(base_url=llama, timeout=600) as theirs,
        ):
            peers = {
                "enclave (HTTP)": over_http(ours, MODEL, {"Authorization": f"Bearer {key}"}),
                "llama-server": over_http(theirs, "bench"),
            }
            rates: dict[str, dict[str, list[float]]] = {name: {} for name in peers}
            for embed in peers.values():
                await embed(TEXTS)  # warm-up
            for _ in range(rounds):
                for workload, run in WORKLOADS.items():
                    for name, embed in peers.items():
                        rates[name].setdefault(workload, []).append(await run(embed))
            calls = {
                "enclave HTTP": peers["enclave (HTTP)"],
                "engine in-process": in_process,
                "llama-server HTTP": peers["llama-server"],
                "client floor": lambda _texts: theirs.get("/health"),
            }
            await latencies(calls, 3)  # warm-up
            single = await latencies(calls, requests)
    finally:
        await engine.close()
    return rates, single


def ledger_overhead(store: Path, requests: int) -> list[float]:
    """Milliseconds each of the last ``requests`` embedding requests spent outside the engine, by the server's
    own ledger (latency minus compute time)."""
    with sqlite3.connect(store) as db:
        rows = db.execute(
            "SELECT latency_ms, compute_seconds FROM usage WHERE endpoint = 'embeddings' AND status = 'ok' "
            "AND compute_seconds IS NOT NULL ORDER BY id DESC LIMIT ?",
            (requests,),
        ).fetchall()
    return [latency - 1000 * compute for latency, compute in rows]


def p50_ms(seconds: list[float]) -> float:
    return 1000 * statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300, help="single-input requests for the gateway's time")
    args = parser.parse_args()
    if not (WORK / "llama-server").exists():
        sys.exit("bench/.work/llama-server is missing: run bench/build_peers.sh first")
    model = default_embedding_model_path(WORK / "embedding-data")
    with enclave_server(model, args.threads) as (url, key, store), llama_server(model, args.threads) as llama:
        rates, single = asyncio.run(measure(model, (url, key), llama, args.threads, args.rounds, args.requests))
    report(rates, f"embeddings/s over HTTP, all-MiniLM-L6-v2 F16, {args.threads} threads, {args.rounds} rounds")
    p50 = {name: p50_ms(series) for name, series in single.items()}
    print(f"\none input ({SHORT!r}), one request at a time, {args.requests} each: p50 ms")
    for name, value in p50.items():
        print(f"  {name:20} {value:.3f}")
    gateway = p50["enclave HTTP"] - p50["engine in-process"]
    print(f"  gateway's own time (enclave HTTP - engine in-process): {gateway:.3f} ms")
    print(f"  the same less the client floor (httpx to llama-server's /health): {gateway - p50['client floor']:.3f} ms")
    if ledger := ledger_overhead(store, args.requests):
        print(f"  by the server's ledger (latency - compute), p50 of {len(ledger)}: {statistics.median(ledger):.3f} ms")


if __name__ == "__main__":
    main()
