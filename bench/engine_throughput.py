"""Engine benchmark: enclave vs llama.cpp's llama-server vs llama-cpp-python's server, in one run.

Same model (the embedded SmolLM2-135M Q4_1), same threads, same workload: 8 prompts, 128 generated tokens
each, temperature 0, end-of-sequence ignored; at concurrency 1 and 8, streaming and not. The servers run one
at a time, so they never compete for the cores. Prints aggregate tokens/s, time to first token p50/p99 and
truncated streams, with ratios to llama-server (each round's own, medians kept); then time to first token with
a repeated ~1,000-token system prompt, cold vs warm.

    bench/build_peers.sh                       # once: builds llama-server and llama-cpp-python's server
    .venv/bin/python bench/engine_throughput.py [--threads 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE.parent))  # the script's own folder is on the path already
from tests.servers import free_port  # noqa: E402

from enclave.engines.catalog import default_model_path  # noqa: E402
from processes import started  # noqa: E402

PROMPTS = [
    f"Write a long story about {topic}."
    for topic in ("the sea", "a fox", "trains", "winter", "a lighthouse", "bread", "the moon", "a clock")
]
TOKENS = 128
PARALLEL = 8
CONTEXT = 2048
# SmolLM2's end-of-generation tokens, banned for the peer that has no ignore_eos.
EOG_BIAS = {"0": -100, "1": -100, "2": -100, "4": -100}


@dataclass
class Peer:
    name: str
    command: list[str]
    body_extra: dict[str, object]
    port: int


def peers(model: Path, threads: int, context: int = CONTEXT) -> list[Peer]:
    """The three servers, each with ``context`` tokens per sequence and PARALLEL sequences."""
    ports = [free_port() for _ in range(3)]
    config = WORK / "enclave-bench.yaml"
    # Its own data folder: benchmark traffic stays out of the user's usage ledger and audit log.
    config.write_text(
        f"data_dir: {WORK / 'enclave-bench-data'}\n"
        "models:\n  - name: bench\n"
        f"    path: {model}\n    context: {context}\n    threads: {threads}\n    parallel: {PARALLEL}\n"
    )
    return [
        Peer(
            "enclave",
            [sys.executable, "-m", "enclave.cli.main", "serve", "--config", str(config), "--port", str(ports[0])],
            {"ignore_eos": True},
            ports[0],
        ),
        Peer(
            "llama-server",
            [
                str(WORK / "llama-server"),
                "-m",
                str(model),
                "-t",
                str(threads),
                "-tb",
                str(threads),
                "-np",
                str(PARALLEL),
                "-c",
                str(context * PARALLEL),
                "--port",
                str(ports[1]),
                "--host",
                "127.0.0.1",
                "--no-webui",
            ],
            {"ignore_eos": True},
            ports[1],
        ),
        Peer(
            "llama-cpp-python",
            [
                str(WORK / "lcp-venv/bin/python"),
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--n_threads",
                str(threads),
                "--n_threads_batch",
                str(threads),
                "--n_ctx",
                str(context),
                "--port",
                str(ports[2]),
                "--host",
                "127.0.0.1",
            ],
            {"logit_bias": EOG_BIAS},
            ports[2],
        ),
    ]


@contextmanager
def running(peer: Peer) -> Iterator[str]:
    url = f"http://127.0.0.1:{peer.port}"
    with started(peer.name, peer.command, lambda: httpx.get(f"{url}/v1/models", timeout=2).status_code == 200):
        yield url


@dataclass
class Result:
    tokens: int
    ttft: float | None
    truncated: bool


async def one(client: httpx.AsyncClient, body: dict[str, object], stream: bool) -> Result:
    started = time.perf_counter()
    if not stream:
        response = await client.post("/v1/chat/completions", json=body)
        data = response.json()
        tokens = data.get("usage", {}).get("completion_tokens", 0) if response.status_code == 200 else 0
        finish = data["choices"][0]["finish_reason"] if response.status_code == 200 else None
        return Result(tokens, None, finish != "length" or tokens < TOKENS)
    ttft = None
    chunks = 0
    finish = None
    done = False
    async with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {(await response.aread())[:300]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                break
            data = json.loads(line[6:])
            for choice in data.get("choices", []):
                if choice.get("delta", {}).get("content"):
                    chunks += 1
                    if ttft is None:
                        ttft = time.perf_counter() - started
                finish = choice.get("finish_reason") or finish
    # Streams carry one token per chunk on all three servers.
    return Result(chunks, ttft, not done or finish != "length" or chunks < TOKENS - 2)


async def workload(url: str, extra: dict[str, object], concurrency: int, stream: bool) -> dict[str, float]:
    bodies = [
        {
            "model": "bench",
            "messages": [{"role": "user", "content": p}],
            "temperature": 0,
            "max_tokens": TOKENS,
            **extra,
        }
        for p in PROMPTS
    ]
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        await one(client, {**bodies[0], "max_tokens": 8}, False)  # warm-up
        started = time.perf_counter()
        if concurrency == 1:
            results = [await one(client, b, stream) for b in bodies]
        else:
            results = await asyncio.gather(*(one(client, b, stream) for b in bodies))
        wall = time.perf_counter() - started
    ttfts = sorted(r.ttft for r in results if r.ttft is not None)
    return {
        "tok_s": sum(r.tokens for r in results) / wall,
        "ttft_p50": statistics.median(ttfts) * 1000 if ttfts else float("nan"),
        "ttft_p99": ttfts[min(len(ttfts) - 1, round(0.99 * (len(ttfts) - 1)))] * 1000 if ttfts else float("nan"),
        "truncated": sum(r.truncated for r in results),
    }


SYSTEM = (
    "You are the records assistant of a regional hospital. Answer briefly, cite the policy section, "
    "never reveal patient identifiers, and escalate anything clinical to the duty nurse. "
)


async def prefix_reuse(url: str, extra: dict[str, object]) -> dict[str, float]:
    """TTFT of a request with a ~1,000-token system prompt: first time, then with another question."""
    system = SYSTEM * 31  # about 1,000 tokens
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        await one(
            client, {"model": "bench", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **extra}, False
        )

        async def ask(question: str) -> float:
            body = {
                "model": "bench",
                "max_tokens": 8,
                "temperature": 0,
                **extra,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
            }
            result = await one(client, body, True)
            return result.ttft or float("nan")

        cold = await ask("Where is the visitor policy?")
        warm = statistics.median(
            [await ask(q) for q in ("Who signs discharge forms?", "Where are the forms?", "What is section 4 about?")]
        )
    return {"cold_ms": cold * 1000, "warm_ms": warm * 1000, "speedup": cold / warm}


def table(rows: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| scenario | server | tokens/s | × llama-server | TTFT p50 ms | TTFT p99 ms | truncated |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scenario, by_peer in rows.items():
        for peer, r in by_peer.items():
            ratio = f"{r['ratio']:.2f}" if "ratio" in r else "–"
            p50 = "–" if r["ttft_p50"] != r["ttft_p50"] else f"{r['ttft_p50']:.0f}"
            p99 = "–" if r["ttft_p99"] != r["ttft_p99"] else f"{r['ttft_p99']:.0f}"
            lines.append(
                f"| {scenario} | {peer} | {r['tok_s']:.1f} | {ratio} | {p50} | {p99} | {int(r['truncated'])}/8 |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="runs per scenario and server; medians are kept")
    parser.add_argument("--skip", action="append", default=[], help="peer to leave out")
    args = parser.parse_args()
    if not (WORK / "llama-server").exists():
        sys.exit("run bench/build_peers.sh first")
    model = default_model_path()
    scenarios = [
        ("c=1 non-stream", 1, False),
        ("c=1 stream", 1, True),
        ("c=8 non-stream", 8, False),
        ("c=8 stream", 8, True),
    ]
    runs: dict[str, dict[str, list[dict[str, float]]]] = {name: {} for name, _, _ in scenarios}
    reuse: dict[str, dict[str, float]] = {}
    # All servers start at once and idle while another is measured; rounds alternate between them, so slow
    # phases of this shared machine hit every server alike instead of whichever ran during them.
    with contextlib.ExitStack() as stack:
        urls = {}
        for peer in peers(model, args.threads):
            if peer.name not in args.skip:
                urls[peer.name] = (stack.enter_context(running(peer)), peer)
        for round_ in range(args.rounds):
            # Every other round the other way round, so no server always runs right after another.
            order = list(urls.items())[:: -1 if round_ % 2 else 1]
            for name, concurrency, stream in scenarios:
                for peer_name, (url, peer) in order:
                    result = asyncio.run(workload(url, peer.body_extra, concurrency, stream))
                    runs[name].setdefault(peer_name, []).append(result)
                    print(
                        f"round {round_ + 1} {peer_name:18} {name:16} {result['tok_s']:7.1f} tok/s "
                        f"truncated {result['truncated']}",
                        file=sys.stderr,
                    )
        for peer_name, (url, peer) in urls.items():
            if peer_name != "llama-cpp-python":
                reuse[peer_name] = asyncio.run(prefix_reuse(url, peer.body_extra))
    rows = {
        name: {peer: median_of(results, by_peer.get("llama-server")) for peer, results in by_peer.items()}
        for name, by_peer in runs.items()
    }
    print(
        f"\nSmolLM2-135M Q4_1, {args.threads} threads, 8 prompts x {TOKENS} tokens, temperature 0, "
        f"median of {args.rounds} interleaved rounds (× llama-server: median of the rounds' own ratios)\n"
    )
    print(table(rows))
    print("\n| prefix reuse (≈1,000-token system prompt) | cold TTFT ms | warm TTFT ms | speed-up |")
    print("|---|---:|---:|---:|")
    for peer, r in reuse.items():
        print(f"| {peer} | {r['cold_ms']:.0f} | {r['warm_ms']:.0f} | {r['speedup']:.1f}× |")


def median_of(results: list[dict[str, float]], base: list[dict[str, float]] | None) -> dict[str, float]:
    """Medians over the rounds; the ratio to llama-server is the median of each round's own ratio, since the
    two ran back to back within a round while the machine's speed drifts between rounds."""
    out = {key: statistics.median(r[key] for r in results) for key in ("tok_s", "ttft_p50", "ttft_p99")}
    out["truncated"] = max(r["truncated"] for r in results)
    if base:
        out["ratio"] = statistics.median(r["tok_s"] / b["tok_s"] for r, b in zip(results, base, strict=True))
    return out


if __name__ == "__main__":
    main()
