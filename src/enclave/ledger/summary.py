"""Usage summaries grouped by project, model, zone, day (any combination), for the CLI and the admin API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from sqlalchemy import Engine, case, func, select

from enclave.errors import InvalidRequest
from enclave.store.schema import usage

Dimension = Literal["project", "key", "model", "target", "zone", "day", "month", "status"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
_COLUMNS = {
    "project": usage.c.project,
    "key": usage.c.key_prefix,
    "model": usage.c.model,
    "target": usage.c.target,
    "zone": usage.c.zone,
    "day": usage.c.day,
    "month": usage.c.month,
    "status": usage.c.status,
}


def dimensions(by: str) -> list[Dimension]:
    """``"project,model"`` as the dimensions it names; an unknown one is a client error naming it."""
    names = [d.strip() for d in by.split(",") if d.strip()]
    unknown = [d for d in names if d not in DIMENSIONS]
    if unknown:
        raise InvalidRequest(f"cannot group usage by {unknown[0]!r}; use {', '.join(DIMENSIONS)}", param="by")
    return cast(list[Dimension], names)


@dataclass(frozen=True, slots=True)
class UsageFilter:
    since: str | None = None  # a day, YYYY-MM-DD, inclusive
    until: str | None = None
    project: str | None = None


def summarize(engine: Engine, by: list[Dimension], where: UsageFilter = UsageFilter()) -> list[dict[str, Any]]:
    groups = [_COLUMNS[d].label(d) for d in by]
    query = select(
        *groups,
        func.count().label("requests"),
        func.sum(case((usage.c.status != "ok", 1), else_=0)).label("errors"),
        func.coalesce(func.sum(usage.c.prompt_tokens), 0).label("prompt_tokens"),
        func.coalesce(func.sum(usage.c.completion_tokens), 0).label("completion_tokens"),
        func.coalesce(func.sum(usage.c.cost), 0.0).label("cost"),
        func.coalesce(func.sum(usage.c.compute_seconds), 0.0).label("compute_seconds"),
        func.avg(usage.c.latency_ms).label("avg_latency_ms"),
        func.avg(usage.c.ttft_ms).label("avg_ttft_ms"),
    )
    if where.since:
        query = query.where(usage.c.day >= where.since)
    if where.until:
        query = query.where(usage.c.day <= where.until)
    if where.project:
        query = query.where(usage.c.project == where.project)
    if groups:
        query = query.group_by(*groups).order_by(*groups)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    out = []
    for row in rows:
        item = dict(row)
        for field in ("requests", "errors", "prompt_tokens", "completion_tokens"):
            item[field] = int(item[field] or 0)
        for field in ("cost", "compute_seconds", "avg_latency_ms", "avg_ttft_ms"):
            item[field] = round(float(item[field]), 6) if item[field] is not None else None
        if item["requests"]:
            out.append(item)
    return out


def month_spend(engine: Engine, project: str, month: str) -> float:
    query = select(func.coalesce(func.sum(usage.c.cost), 0.0)).where(usage.c.project == project, usage.c.month == month)
    with engine.connect() as connection:
        return float(connection.execute(query).scalar() or 0.0)
