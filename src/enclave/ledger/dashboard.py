"""The usage dashboard's figures, summed by the database over whole UTC days (``Period``).

Everything comes from the daily roll-ups, written in the transaction that writes the usage rows (today's rows
included), so they always equal summing the rows: ``usage_daily`` (per project, model, target, zone, with the
requests that did not end "ok") and ``usage_daily_keys`` (per key, project, zone). A month of a million rows is a
few thousand roll-up rows. Totals are the sums of the per-day series, so the headline, the chart and the tables
agree with each other as well as with the ledger.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Engine, Select, case, func, select, true

from enclave.config import PricesConfig
from enclave.errors import InvalidRequest
from enclave.ledger.costs import cost_report
from enclave.ledger.period import DAY, Period
from enclave.ledger.traffic import Traffic
from enclave.store.schema import usage_daily, usage_daily_keys

Breakdown = Literal["model", "project", "key", "target"]
BREAKDOWNS: tuple[Breakdown, ...] = get_args(Breakdown)
PAGE_ROWS = 25
MAX_DAYS = 3660  # ten years of days on one chart is already more than a screen shows


@dataclass(frozen=True, slots=True)
class Scope:
    """What a view covers: whole UTC days, and one project when the caller's key is bound to one."""

    period: Period
    project: str | None = None

    def __post_init__(self) -> None:
        if (self.period.end - self.period.first).days > MAX_DAYS:
            raise InvalidRequest(f"the period is longer than {MAX_DAYS} days; choose a shorter one", param="since")


@dataclass(frozen=True, slots=True)
class DaySums:
    day: str
    traffic: Traffic
    errors: int


@dataclass(frozen=True, slots=True)
class Overview:
    days: list[DaySums]  # every day of the period, those without traffic as zeros
    total: Traffic
    errors: int

    @property
    def error_rate(self) -> float:
        """The share of requests that did not end "ok" (refused, failed or cut off), 0 without requests."""
        return self.errors / self.total.requests if self.total.requests else 0.0


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a breakdown: its name (None for requests that had none) and its local and hosted parts."""

    name: str | None
    traffic: Traffic
    local_tokens: int
    hosted_tokens: int


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    number: int  # from 1
    count: int  # pages in all (at least 1)
    total_rows: int


@dataclass(frozen=True, slots=True)
class Split:
    """Traffic by where it ran: ``local``, ``hosted`` and ``unrouted`` (refused before a target was chosen)."""

    sides: dict[str, Traffic] = field(default_factory=dict)

    def share(self, side: str, measure: Literal["requests", "tokens", "cost"]) -> float:
        whole = sum(getattr(t, measure) for t in self.sides.values())
        return getattr(self.sides[side], measure) / whole if whole else 0.0


SIDES = {"local": "local", "external": "hosted", "": "unrouted"}
_d = usage_daily.c
_SUMS = (
    func.sum(_d.requests),
    func.sum(_d.prompt_tokens),
    func.sum(_d.completion_tokens),
    func.sum(_d.busy_seconds),
    func.sum(_d.cost),
)


def _in_scope(day: ColumnElement[str], project: ColumnElement[Any], scope: Scope) -> ColumnElement[bool]:
    where = (day >= scope.period.first.isoformat()) & (day < scope.period.end.isoformat())
    return where & (project == scope.project if scope.project is not None else true())


def _traffic(requests: Any, prompt: Any, completion: Any, busy: Any, cost: Any) -> Traffic:
    return Traffic(int(requests or 0), int(prompt or 0), int(completion or 0), float(busy or 0), float(cost or 0))


class UsageReports:
    """The dashboard's read side of the ledger: one object, handed to the UI by the server at start-up."""

    def __init__(self, engine: Engine, prices: PricesConfig) -> None:
        self.engine = engine
        self.prices = prices

    @property
    def currency(self) -> str:
        return self.prices.currency

    def overview(self, scope: Scope) -> Overview:
        d = usage_daily.c
        sums = select(d.day, *_SUMS, func.sum(d.errors)).where(_in_scope(d.day, d.project, scope)).group_by(d.day)
        with self.engine.connect() as connection:
            found = connection.execute(sums).all()
        traffic = {row[0]: _traffic(*row[1:6]) for row in found}
        errors = {row[0]: int(row[6]) for row in found}
        days = []
        day = scope.period.first
        while day < scope.period.end:
            key = day.isoformat()
            days.append(DaySums(key, traffic.get(key, Traffic()), errors.get(key, 0)))
            day += DAY
        return Overview(days, sum((d.traffic for d in days), Traffic()), sum(d.errors for d in days))

    def breakdown(self, scope: Scope, by: Breakdown, page: int, rows: int = PAGE_ROWS) -> Page:
        """One page of the traffic grouped ``by``, the most expensive first (then by tokens, then by name)."""
        if by not in BREAKDOWNS:
            raise InvalidRequest(f"cannot break usage down by {by!r}; use {', '.join(BREAKDOWNS)}", param="by")
        if page < 1:
            raise InvalidRequest(f"page: {page} is not a page number (1 or more)", param="page")
        query = _by_key(scope) if by == "key" else _by_rollup(scope, by)
        grouped = query.subquery()
        tokens = grouped.c.prompt + grouped.c.completion
        # The number of groups comes with the page (a window over the grouped rows): grouping once, not twice.
        ordered = (
            select(grouped, func.count().over().label("groups"))
            .order_by(grouped.c.cost.desc(), tokens.desc(), func.coalesce(grouped.c.name, ""))
            .limit(rows)
            .offset((page - 1) * rows)
        )
        with self.engine.connect() as connection:
            found = connection.execute(ordered).all()
            if found:
                total_rows = int(found[0].groups)
            else:  # past the end (or nothing at all): count them to say how many pages there are
                total_rows = int(connection.execute(select(func.count()).select_from(grouped)).scalar() or 0)
        count = max(1, math.ceil(total_rows / rows))
        if page > count:
            raise InvalidRequest(f"page: {page} is past the last page ({count})", param="page")
        return Page(
            [
                Row(
                    r.name or None,
                    _traffic(r.requests, r.prompt, r.completion, r.busy, r.cost),
                    int(r.local),
                    int(r.hosted),
                )
                for r in found
            ],
            page,
            count,
            total_rows,
        )

    def split(self, scope: Scope) -> Split:
        d = usage_daily.c
        query = select(d.zone, *_SUMS).where(_in_scope(d.day, d.project, scope)).group_by(d.zone)
        sides = dict.fromkeys(("local", "hosted", "unrouted"), Traffic())
        with self.engine.connect() as connection:
            for zone, *sums in connection.execute(query):
                side = SIDES.get(zone or "", "unrouted")
                sides[side] += _traffic(*sums)
        return Split(sides)

    def costs(self, scope: Scope, now: dt.datetime) -> dict[str, Any]:
        """``enclave costs``'s report for the scope (see docs/cli.md for every figure)."""
        return cost_report(self.engine, self.prices, scope.period, now, project=scope.project)


def _by_rollup(scope: Scope, by: Breakdown) -> Select[Any]:
    d = usage_daily.c
    column = d[by]
    return (
        select(
            column.label("name"),
            func.sum(d.requests).label("requests"),
            func.sum(d.prompt_tokens).label("prompt"),
            func.sum(d.completion_tokens).label("completion"),
            func.sum(d.busy_seconds).label("busy"),
            func.sum(d.cost).label("cost"),
            func.sum(case((d.zone == "local", d.prompt_tokens + d.completion_tokens), else_=0)).label("local"),
            func.sum(case((d.zone == "external", d.prompt_tokens + d.completion_tokens), else_=0)).label("hosted"),
        )
        .where(_in_scope(d.day, d.project, scope))
        .group_by(column)
    )


def _by_key(scope: Scope) -> Select[Any]:
    k = usage_daily_keys.c
    tokens = k.prompt_tokens + k.completion_tokens
    return (
        select(
            k.key_prefix.label("name"),
            func.sum(k.requests).label("requests"),
            func.sum(k.prompt_tokens).label("prompt"),
            func.sum(k.completion_tokens).label("completion"),
            func.sum(k.busy_seconds).label("busy"),
            func.sum(k.cost).label("cost"),
            func.sum(case((k.zone == "local", tokens), else_=0)).label("local"),
            func.sum(case((k.zone == "external", tokens), else_=0)).label("hosted"),
        )
        .where(_in_scope(k.day, k.project, scope))
        .group_by(k.key_prefix)
    )
