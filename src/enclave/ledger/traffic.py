"""The ledger's traffic over a period, summed by the database (GROUP BY, SUM) from the daily roll-up, never row by
row in Python."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select, true

from enclave.ledger.period import Period
from enclave.store.schema import usage_daily


@dataclass(frozen=True, slots=True)
class Traffic:
    """Requests and what they used, summed over one group of ledger rows."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    busy_seconds: float = 0.0
    cost: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Traffic) -> Traffic:
        return Traffic(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.busy_seconds + other.busy_seconds,
            self.cost + other.cost,
        )


@dataclass(frozen=True, slots=True)
class Group:
    """One row of a grouped sum: the grouping key, the zone the traffic ran in (None before routing) and its sums."""

    key: str | None
    zone: str | None
    traffic: Traffic


def traffic_by(engine: Engine, period: Period, dimension: str, project: str | None = None) -> list[Group]:
    """Sums per (``dimension``, zone) over the period's whole UTC days, read from ``usage_daily`` (kept in the
    transaction that writes the usage rows, so equal to summing them). ``dimension`` is ``target``, ``project``
    or ``model``; a key or zone the rows did not have (a request refused before routing) is None. With
    ``project``, that project's rows only."""
    column = usage_daily.c[dimension]
    query = (
        select(
            column,
            usage_daily.c.zone,
            func.sum(usage_daily.c.requests),
            func.sum(usage_daily.c.prompt_tokens),
            func.sum(usage_daily.c.completion_tokens),
            func.sum(usage_daily.c.busy_seconds),
            func.sum(usage_daily.c.cost),
        )
        .where(usage_daily.c.day >= period.first.isoformat(), usage_daily.c.day < period.end.isoformat())
        .where(usage_daily.c.project == project if project is not None else true())
        .group_by(column, usage_daily.c.zone)
        .order_by(column, usage_daily.c.zone)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        Group(key or None, zone or None, Traffic(int(n), int(prompt), int(completion), float(busy), float(cost)))
        for key, zone, n, prompt, completion, busy, cost in rows
    ]
