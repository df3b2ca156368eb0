"""Real traffic: enclave vs llama.cpp's llama-server, in one run, on requests that do not arrive as one wave.

Same model (the embedded SmolLM2-135M Q4_1), same threads, 8 parallel sequences of 4,096 tokens each (enclave's
default context for it; llama-server gets -c 8x4096 with -np 8). Requests mix short chat turns with 1,000-3,700-
token excerpts of this repository's docs to summarise or answer about; answers end naturally (temperature 0, no
ignore_eos, max_tokens 128). Workloads: closed loops at 8 concurrent with more requests than slots, streamed and
not; open-loop Poisson arrivals at several rates (seeded), streamed. Both servers run at once and take turns
within each round (the other one first every other round) on the same requests; each round draws new requests.
Prints, per workload and server, aggregate completion tokens/s, time to first token and time between tokens
p50/p99 (streamed), queue wait p50, and enclave's ratio to llama-server (the median of each round's own ratio).
Ends with the engine benchmark's prefix-reuse probe (cold and warm TTFT of a ~1,000-token system prompt).

    bench/build_peers.sh        # once: builds llama-server into bench/.work
    .venv/bin/python bench/real_traffic.py [--quick] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field

import httpx

from enclave.engines.catalog import default_model_path
from engine_throughput import WORK, peers, prefix_reuse, running
from traffic_prompts import Corpus, Request

CONTEXT = 4096  # enclave's served context for SmolLM2 when none is configured
MAX_TOKENS = 128
CONCURRENCY = 8
SERVERS = ("enclave", "llama-server")


@dataclass
class Workload:
    name: str
    stream: bool
    count: int
    rate: float | None = None  # Poisson arrivals per second; None: a closed loop at CONCURRENCY


@dataclass
class Outcome:
    tokens: int = 0
    ttft: float | None = None
    gaps: list[float] = field(default_factory=list)  # seconds between streamed tokens
    queue: float | None = None  # seconds waiting before the server began computing, where it says
    error: str | None = None


def queue_wait(data: dict[str, object], latency: float) -> float | None:
    """llama-server's ``timings`` say how long it computed; the rest of the request's time it waited (plus
    HTTP, well under a millisecond on loopback). enclave reports no per-request timings: None."""
    timings = data.get("timings")
    if not isinstance(timings, dict):
        return None
    return max(0.0, latency - (timings.get("prompt_ms", 0) + timings.get("predicted_ms", 0)) / 1000)


async def send(client: httpx.AsyncClient, request: Request, stream: bool) -> Outcome:
    body: dict[str, object] = {
        "model": "bench",
        "messages": request.messages,
        "temperature": 0,
        "max_tokens": MAX_TOKENS,
    }
    started = time.perf_counter()
    out = Outcome()
    if not stream:
        response = await client.post("/v1/chat/completions", json=body)
        if response.status_code != 200:
            return Outcome(error=f"{response.status_code}: {response.text[:200]}")
        data = response.json()
        out.tokens = data["usage"]["completion_tokens"]
        out.queue = queue_wait(data, time.perf_counter() - started)
        return out
    body |= {"stream": True, "stream_options": {"include_usage": True}}
    chunks = 0
    usage = None
    last = started
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            return Outcome(error=f"{response.status_code}: {(await response.aread())[:200]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            data = json.loads(line[6:])
            now = time.perf_counter()
            usage = data.get("usage") or usage
            if "timings" in data:
                out.queue = queue_wait(data, now - started)
            if any(c.get("delta", {}).get("content") for c in data.get("choices", [])):
                chunks += 1
                if out.ttft is None:
                    out.ttft = now - started
                else:
                    out.gaps.append(now - last)
                last = now
    # Streams carry one token per chunk on both servers; usage, where sent, counts the ones with no text too.
    out.tokens = usage["completion_tokens"] if usage else chunks
    return out


async def drive(url: str, workload: Workload, requests: list[Request], seed: int) -> tuple[list[Outcome], float]:
    """Every request of the workload; the wall time from the first sent to the last finished."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(base_url=url, timeout=900, limits=limits) as client:
        started = time.perf_counter()
        if workload.rate is None:
            pending = iter(requests)
            outcomes: list[Outcome] = []

            async def worker() -> None:
                for request in pending:  # one shared iterator: each worker takes the next request when free
                    outcomes.append(await send(client, request, workload.stream))

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        else:
            rng = random.Random(seed)
            at = 0.0
            tasks = []
            for request in requests:
                delay = at - (time.perf_counter() - started)
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(client, request, workload.stream)))
                at += rng.expovariate(workload.rate)
            outcomes = list(await asyncio.gather(*tasks))
        return outcomes, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(outcomes: list[Outcome], wall: float) -> dict[str, float]:
    ok = [o for o in outcomes if o.error is None]
    ttfts = [o.ttft for o in ok if o.ttft is not None]
    gaps = [g for o in ok for g in o.gaps]
    queues = [o.queue for o in ok if o.queue is not None]
    return {
        "tokens": sum(o.tokens for o in ok),
        "tok_s": sum(o.tokens for o in ok) / wall,
        "ttft_p50": percentile(ttfts, 0.5) * 1000,
        "ttft_p99": percentile(ttfts, 0.99) * 1000,
        "tbt_p50": percentile(gaps, 0.5) * 1000,
        "tbt_p99": percentile(gaps, 0.99) * 1000,
        "queue_p50": percentile(queues, 0.5) * 1000,
        "errors": len(outcomes) - len(ok),
    }


METRICS = ("tok_s", "ttft_p50", "ttft_p99", "tbt_p50", "tbt_p99")


def report(workloads: list[Workload], runs: dict[str, dict[str, list[dict[str, float]]]]) -> str:
    def cell(value: float, digits: int = 0) -> str:
        return "n/a" if value != value else f"{value:.{digits}f}"

    lines = [
        "| workload | server | tokens | tokens/s | TTFT p50 ms | TTFT p99 ms | TBT p50 ms | TBT p99 ms "
        "| queue p50 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = [
        "| workload | tokens/s × | TTFT p50 × | TTFT p99 × | TBT p50 × | TBT p99 × |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for workload in workloads:
        by_server = runs[workload.name]
        for server, results in by_server.items():
            m = {key: statistics.median(r[key] for r in results) for key in (*METRICS, "tokens", "queue_p50")}
            lines.append(
                f"| {workload.name} | {server} | {m['tokens']:.0f} | {m['tok_s']:.1f} | {cell(m['ttft_p50'])} "
                f"| {cell(m['ttft_p99'])} | {cell(m['tbt_p50'], 1)} | {cell(m['tbt_p99'], 1)} "
                f"| {cell(m['queue_p50'])} | {sum(r['errors'] for r in results):.0f} |"
            )
        if len(by_server) == len(SERVERS):
            mine, theirs = by_server["enclave"], by_server["llama-server"]
            cells = [
                cell(statistics.median(a[k] / b[k] for a, b in zip(mine, theirs, strict=True)), 2) for k in METRICS
            ]
            ratios.append(f"| {workload.name} | " + " | ".join(cells) + " |")
    legend = (
        "enclave ÷ llama-server, median of the rounds' own ratios (tokens/s: above 1 enclave leads; "
        "times: below 1 enclave leads):"
    )
    return "\n".join([*lines, "", legend, "", *ratios])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run, for development")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each server runs every workload once a round")
    parser.add_argument("--threads", type=int, default=1, help="threads per server (1: this machine is shared)")
    parser.add_argument("--requests", type=int, default=24, help="requests per closed-loop workload")
    parser.add_argument("--rates", default="0.5,1,2", help="Poisson arrival rates per second, comma-separated")
    parser.add_argument("--long-share", type=float, default=0.25, help="share of long (document) prompts")
    parser.add_argument("--long-tokens", default="1000,3700", help="the long prompts' sizes in tokens: MIN,MAX")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    if not (WORK / "llama-server").exists():
        sys.exit("run bench/build_peers.sh first")
    rates = [float(r) for r in args.rates.split(",")]
    low, high = (int(n) for n in args.long_tokens.split(","))
    closed, opened, rounds = args.requests, max(8, args.requests * 2 // 3), args.rounds
    if args.quick:
        closed, opened, rates, rounds, high = CONCURRENCY + 1, 4, rates[:1], 1, min(high, 1500)
    workloads = [
        Workload(f"closed c={CONCURRENCY} stream", True, closed),
        Workload(f"closed c={CONCURRENCY} non-stream", False, closed),
        *(Workload(f"poisson {rate:g}/s stream", True, opened, rate) for rate in rates),
    ]
    model = default_model_path()
    corpus = Corpus(model)
    runs: dict[str, dict[str, list[dict[str, float]]]] = {w.name: {} for w in workloads}
    with contextlib.ExitStack() as stack:
        urls = {
            peer.name: stack.enter_context(running(peer))
            for peer in peers(model, args.threads, CONTEXT)
            if peer.name in SERVERS
        }
        for round_ in range(rounds):
            order = list(urls.items())[:: -1 if round_ % 2 else 1]
            for index, workload in enumerate(workloads):
                seed = args.seed * 1000 + round_ * 100 + index  # new requests each round, the same for both
                requests = corpus.requests(seed, workload.count, args.long_share, (low, high))
                for server, url in order:
                    outcomes, wall = asyncio.run(drive(url, workload, requests, seed))
                    result = summarise(outcomes, wall)
                    runs[workload.name].setdefault(server, []).append(result)
                    print(
                        f"round {round_ + 1} {server:12} {workload.name:22} {result['tok_s']:6.1f} tok/s "
                        f"TTFT p50 {result['ttft_p50']:6.0f} ms TBT p99 {result['tbt_p99']:6.1f} ms "
                        f"({wall:.0f} s, {result['errors']:.0f} errors)",
                        file=sys.stderr,
                    )
            # The tables so far after every round: a run cut short still leaves its figures in the log.
            print(report(workloads, runs), file=sys.stderr)
        reuse = {server: asyncio.run(prefix_reuse(url, {})) for server, url in urls.items()}
    long_prompts = f"{args.long_share:.0%} of prompts {low:,}-{high:,} tokens"
    print(
        f"\nSmolLM2-135M Q4_1, {args.threads} thread(s), {CONCURRENCY} slots x {CONTEXT} tokens, {long_prompts}, "
        f"max_tokens {MAX_TOKENS}, temperature 0, answers ending naturally; median of {rounds} round(s)\n"
    )
    print(report(workloads, runs))
    print("\n| prefix reuse (≈1,000-token system prompt) | cold TTFT ms | warm TTFT ms |")
    print("|---|---:|---:|")
    for server, r in reuse.items():
        print(f"| {server} | {r['cold_ms']:.0f} | {r['warm_ms']:.0f} |")


if __name__ == "__main__":
    main()
