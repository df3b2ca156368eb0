"""The dashboard's test bench: usage rows written by the ledger's own writer into a real SQLite store (several UTC
days, rows at 23:59:59 and 00:00:00, more keys than a page holds), a real server on it with keys of each role,
the figures a page shows (read from its ``data-metric`` attributes), and the same figures computed here with SQL
on the ``usage`` table alone (bounded by time, not by the day column), to compare."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import httpx

from enclave.config import LedgerConfig, PricesConfig
from enclave.ledger.prices import PriceSheet
from enclave.ledger.recorder import Recorder
from enclave.ledger.records import UsageRecord
from enclave.routing.table import Target
from enclave.store.db import open_engine
from tests.servers import enclave, running_server, write_config

PRICES = {
    "tokens": {"openai/gpt-x": {"input": 2.0, "output": 8.0}, "other/big": {"input": 5.0, "output": 15.0}},
    "hourly": {"embedded": 1.8},
}
TARGETS = [
    Target("embedded", "smol", "local"),
    Target("openai", "gpt-x", "external"),
    Target("other", "big", "external"),
    None,  # refused before routing: no target, no zone
]
KEYS = 30  # more than one page (25 rows) of the by-key table
FIRST_DAY, LAST_DAY = "2025-03-30", "2025-04-02"
# At the edges of the days: each belongs to the day it names, the first two and the last two outside the range.
EDGES = [
    "2025-03-29T23:59:59.999999",
    "2025-04-03T00:00:00",
    "2025-03-30T00:00:00",
    "2025-03-31T23:59:59.999999",
    "2025-04-01T00:00:00",
    "2025-04-02T23:59:59",
]


def at_us(text: str) -> int:
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def usage_rows(now_us: int) -> list[UsageRecord]:
    """110 rows from 2025-03-29 to 2025-04-03 and 3 at ``now_us`` (for the named periods)."""
    sheet = PriceSheet(PricesConfig.model_validate(PRICES))
    times = [at_us(t) for t in EDGES] + [at_us("2025-03-30T00:30:00") + i * 3_100_000_000 for i in range(104)]
    times += [now_us - i for i in range(3)]
    rows = []
    for i, moment in enumerate(times):
        target = TARGETS[i % len(TARGETS)]
        prompt, completion = (0, 0) if target is None else (100 + 7 * i, 20 + 3 * i)
        busy = 0.5 + i / 100 if target is not None and target.zone == "local" else None
        status = "error" if target is None else ("upstream_error" if i % 9 == 0 else "ok")
        rows.append(
            UsageRecord(
                f"dash-{i}",
                moment,
                "chat",
                target.model if target else "smol",
                status,
                12.5,
                key_prefix=f"enc_{i % KEYS:08x}",
                project=("alpha", "beta", None)[i % 3],
                target=str(target) if target else None,
                zone=target.zone if target else None,
                prompt_tokens=prompt,
                completion_tokens=completion,
                compute_seconds=busy,
                cost=sheet.cost(target, prompt, completion, busy) if target else 0.0,
            )
        )
    return rows


@dataclass
class Dashboard:
    url: str
    db: Path
    keys: dict[str, str]
    config: Path

    def get(self, path: str, role: str | None = "viewer", **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=30)

    def figures(self, path: str, role: str | None = "viewer", **params: str) -> Figures:
        response = self.get(path, role, **params)
        assert response.status_code == 200, response.text
        return read_figures(response.text)


@contextmanager
def dashboard_server(
    directory: Path, auth: str = "on", settings: dict[str, object] | None = None
) -> Iterator[Dashboard]:
    """A server (auth on unless told, with further ``settings``) over a store holding ``usage_rows``; keys:
    admin, viewer, developer, and a viewer bound to project alpha."""
    db = directory / "enclave.db"
    settings = {
        **(settings or {}),
        "auth": {"mode": auth, "cache_seconds": 1.0},
        "store": {"url": f"sqlite:///{db}"},
        "audit": {"checkpoint_seconds": 0},
        "prices": PRICES,
    }
    config = write_config(directory, settings, context=512, parallel=2, threads=2)
    engine = open_engine(f"sqlite:///{db}")
    recorder = Recorder(engine, LedgerConfig(batch=1000))
    for row in usage_rows(time.time_ns() // 1000):
        recorder.record(row)
    assert recorder.flush_once() and recorder.pending == 0
    engine.dispose()
    keys = {}
    assert enclave("projects", "create", "alpha", config=config).returncode == 0
    for role, project in (("admin", None), ("viewer", None), ("developer", None), ("alpha", "alpha")):
        made = enclave(
            "keys",
            "create",
            "--name",
            role,
            "--role",
            "viewer" if role == "alpha" else role,
            *(["--project", project] if project else []),
            config=config,
        )
        assert made.returncode == 0, made.stderr
        keys[role] = made.stdout.strip()
    with running_server(config, directory / "server.log") as url:
        yield Dashboard(url, db, keys, config)


class _FormToken(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.token: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name") == "csrf":
            self.token = a.get("value")


def form_token(html: str) -> str | None:
    """The CSRF token a page's form carries (the login form's, or the logout button's)."""
    reader = _FormToken()
    reader.feed(html)
    return reader.token


def sign_in(browser: httpx.Client, key: str) -> httpx.Response:
    """Log in through the form as a browser does: read the form (and its token cookie), post it."""
    token = form_token(browser.get("/ui/login").text)
    return browser.post("/ui/login", data={"key": key, "csrf": token or ""})


@dataclass
class Figures:
    """What a page shows: headline figures by name, table rows by their ``data-row``, the pager's page count."""

    headline: dict[str, str] = field(default_factory=dict)
    rows: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    pages: int = 1
    since: str = ""
    until: str = ""

    def number(self, name: str) -> float:
        return float(self.headline[name])


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures = Figures()
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-row" in a:
            self._row = a["data-row"]
        if tag == "nav" and "data-pages" in a:
            self.figures.pages = int(a["data-pages"])
        metric = a.get("data-metric")
        if metric == "period":
            self.figures.since, self.figures.until = a["data-since"], a["data-until"]
        elif metric is not None:
            place = self.figures.rows[self._row] if self._row is not None else self.figures.headline
            place[metric] = a["data-value"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None


def read_figures(html: str) -> Figures:
    reader = _Reader()
    reader.feed(html)
    return reader.figures


class Ledger:
    """The figures, summed here with SQL on the usage rows between two instants (start included, end excluded)."""

    def __init__(self, db: Path, since: str, until: str, project: str | None = None) -> None:
        self._db = db
        self.start = at_us(f"{since}T00:00:00")
        self.end = at_us(f"{until}T00:00:00") + 86_400_000_000
        self._project = project

    def query(self, select: str, group: str = "", extra: str = "") -> list[tuple]:
        where = "at_us >= ? AND at_us < ?" + (" AND project = ?" if self._project else "") + extra
        args = [self.start, self.end, *([self._project] if self._project else [])]
        with sqlite3.connect(self._db) as connection:
            return connection.execute(f"SELECT {select} FROM usage WHERE {where} {group}", args).fetchall()

    def one(self, select: str, extra: str = "") -> tuple:
        return self.query(select, extra=extra)[0]
