"""The dashboard on a large ledger: writes N usage rows (default 1,000,000) over one month into a temporary SQLite
store through the ledger's own writer (rows and daily roll-ups, in batches of 1,000 as the server writes them;
500 keys, 25 per project, 3% of requests failed), then times what each dashboard view asks the ledger for (the
database work of a page; the template adds a few milliseconds). The bar is 300 ms of server time per view.

    .venv/bin/python bench/dashboard_views.py [--rows 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from costs_report import CHUNK, MONTH, PRICES, _records
from enclave.config import LedgerConfig
from enclave.ledger.dashboard import Scope, UsageReports
from enclave.ledger.period import named_period
from enclave.ledger.recorder import Recorder
from enclave.store.db import open_engine

KEYS_PER_PROJECT = 25


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
                # A key belongs to one project, as keys with auth on do.
                project = int((record.project or "project-0").rsplit("-", 1)[1])
                record.key_prefix = f"enc_{project * KEYS_PER_PROJECT + rng.randrange(KEYS_PER_PROJECT):08x}"
                record.status = "upstream_error" if rng.random() < 0.03 else "ok"
                recorder.record(record)
            while recorder.pending:
                assert recorder.flush_once()
        print(f"wrote {args.rows:,} rows in {time.perf_counter() - began:.1f} s")
        reports = UsageReports(engine, PRICES)
        scope = Scope(named_period("month", MONTH))
        now = dt.datetime.combine(scope.period.end, dt.time(), dt.UTC)
        views: dict[str, Callable[[], Any]] = {
            "overview (series, split, costs)": lambda: (
                reports.overview(scope),
                reports.split(scope),
                reports.costs(scope, now),
            ),
            "by key, page 1": lambda: reports.breakdown(scope, "key", 1),
            "by key, last page": lambda: reports.breakdown(scope, "key", 20),
            "by model": lambda: reports.breakdown(scope, "model", 1),
            "by project": lambda: reports.breakdown(scope, "project", 1),
            "by target": lambda: reports.breakdown(scope, "target", 1),
            "local vs hosted": lambda: reports.split(scope),
            "costs": lambda: reports.costs(scope, now),
        }
        for name, view in views.items():
            times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                view()
                times.append(time.perf_counter() - began)
            print(f"{name}: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
        assert reports.overview(scope).total.requests == args.rows
        engine.dispose()


if __name__ == "__main__":
    main()
