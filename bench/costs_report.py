"""`enclave costs` on a large ledger: writes N usage rows (default 1,000,000) spread over one month into a
temporary SQLite store migrated like a real one, through the ledger's own writer (rows and daily roll-up, in
batches of 1,000 as the server writes them), then times the month's cost report (the same call the CLI makes:
three grouped queries and the arithmetic). The bar is 1 s for a month of 1M rows.

    .venv/bin/python bench/costs_report.py [--rows 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from enclave.config import LedgerConfig, PricesConfig, TokenPrice
from enclave.ledger.costs import cost_report
from enclave.ledger.period import named_period
from enclave.ledger.recorder import Recorder
from enclave.ledger.records import UsageRecord
from enclave.store.db import open_engine
from enclave.store.schema import usage

MONTH = dt.date(2025, 3, 1)
TARGETS = [("embedded/smollm2-135m", "local"), ("vllm/llama-8b", "local"), ("openai/gpt-4o-mini", "external")]
PRICES = PricesConfig(
    tokens={"openai/gpt-4o-mini": TokenPrice(input=0.15, output=0.6), "anthropic/haiku": TokenPrice(input=1, output=5)},
    hourly={"embedded": 0.5, "vllm": 2.0},
)
CHUNK = 50_000


def _records(first: int, n: int, rng: random.Random) -> list[UsageRecord]:
    start = int(dt.datetime.combine(MONTH, dt.time(), dt.UTC).timestamp() * 1e6)
    span = 31 * 86_400 * 1_000_000
    rows = []
    for i in range(first, first + n):
        target, zone = rng.choice(TARGETS)
        prompt, completion = rng.randint(10, 2000), rng.randint(1, 500)
        rows.append(
            UsageRecord(
                request_id=f"{i:032x}",
                at_us=start + rng.randrange(span),
                endpoint="chat",
                model=target.split("/")[1],
                status="ok",
                latency_ms=100.0,
                project=f"project-{rng.randrange(20)}",
                target=target,
                zone=zone,
                prompt_tokens=prompt,
                completion_tokens=completion,
                compute_seconds=(prompt + completion) / 400 if zone == "local" else None,
                cost=0.001,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        engine = open_engine(f"sqlite:///{Path(directory) / 'enclave.db'}")
        rng = random.Random(19)
        began = time.perf_counter()
        recorder = Recorder(engine, LedgerConfig(batch=1000, max_pending=CHUNK))
        for offset in range(0, args.rows, CHUNK):
            for record in _records(offset, min(CHUNK, args.rows - offset), rng):
                recorder.record(record)
            while recorder.pending:
                assert recorder.flush_once()
        print(f"wrote {args.rows:,} rows in {time.perf_counter() - began:.1f} s")
        period = named_period("month", MONTH)
        now = dt.datetime.combine(period.end, dt.time(), dt.UTC)
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            report = cost_report(engine, PRICES, period, now)
            times.append(time.perf_counter() - began)
        with engine.connect() as connection:
            # The roll-up agrees with the rows it sums: the month's tokens straight from the usage table.
            tokens = connection.execute(select(func.sum(usage.c.prompt_tokens + usage.c.completion_tokens))).scalar()
        assert (report["requests"], report["tokens"]) == (args.rows, tokens), (report["requests"], tokens)
        print(
            f"cost report for {period.first}..{period.last}: first {times[0] * 1000:.0f} ms, "
            f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {args.runs} runs"
        )
        print(f"break-even {report['break_even_tokens_per_day']} tokens/day ({report['reason'] or 'computed'})")
        engine.dispose()


if __name__ == "__main__":
    main()
