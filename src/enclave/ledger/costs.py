"""What the period's traffic cost, what it would have cost the other way, and at what volume self-hosting pays.

Every figure comes from the ledger's sums (``traffic``) and the price sheet; nothing is quoted. The formulas are
explained, figure by figure, in docs/cli.md (``enclave costs``):

- local throughput T = local tokens / local busy seconds, per local provider (measured on real traffic);
- a hosted price per token p = (prompt tokens x input + completion tokens x output) / (tokens x 1e6), at the
  local traffic's own prompt/completion mix;
- self-hosting's fixed cost per day F = hourly x 24 (the machine costs the same busy or idle);
- break-even V* = F / p tokens per day, reachable only when V* <= T x 86400 (one machine's capacity per day);
  beyond it every extra machine adds F for T x 86400 tokens, so if a full machine costs more per token than the
  API, self-hosting never breaks even.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from enclave.config import PricesConfig, TokenPrice
from enclave.ledger.period import Period
from enclave.ledger.traffic import Group, Traffic, traffic_by

DAY_SECONDS = 86_400
# Tokens per day of the scenario table unless the user names their own (roughly a team, a department, a
# company's worth of traffic).
DEFAULT_VOLUMES: dict[str, int] = {"low": 1_000_000, "medium": 10_000_000, "high": 100_000_000}


@dataclass(frozen=True, slots=True)
class LocalProvider:
    """A local provider's traffic in the period and, when the price sheet has one, its hourly cost."""

    name: str
    traffic: Traffic
    hourly: float | None

    @property
    def throughput(self) -> float | None:
        """Tokens per busy second, measured; None before any busy time was."""
        t = self.traffic
        return t.tokens / t.busy_seconds if t.busy_seconds > 0 and t.tokens > 0 else None


def per_token(price: TokenPrice, mix: Traffic) -> float:
    """The hosted price of one token at ``mix``'s share of prompt and completion tokens (half each without any)."""
    if mix.tokens == 0:
        return (price.input + price.output) / 2 / 1e6
    return (mix.prompt_tokens * price.input + mix.completion_tokens * price.output) / mix.tokens / 1e6


def _money(value: float) -> float:
    return round(value, 6)


def _traffic(t: Traffic) -> dict[str, Any]:
    return {
        "requests": t.requests,
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
        "tokens": t.tokens,
        "cost": _money(t.cost),
    }


def _split(groups: list[Group]) -> list[dict[str, Any]]:
    """Per key, all its traffic with the local and hosted parts (a sum over the database's groups, a handful per
    key, not over rows)."""
    parts: dict[str | None, dict[str, Traffic]] = defaultdict(lambda: defaultdict(Traffic))
    for group in groups:
        side = {"local": "local", "external": "hosted"}.get(group.zone or "", "unrouted")
        parts[group.key][side] += group.traffic
    out = []
    for key, sides in parts.items():
        total = sum(sides.values(), Traffic())
        out.append(
            {
                "name": key,
                **_traffic(total),
                "local_tokens": sides["local"].tokens,
                "local_cost": _money(sides["local"].cost),
                "hosted_tokens": sides["hosted"].tokens,
                "hosted_cost": _money(sides["hosted"].cost),
            }
        )
    return sorted(out, key=lambda row: (-row["cost"], -row["tokens"], row["name"] or ""))


def _providers(by_target: list[Group], prices: PricesConfig) -> list[LocalProvider]:
    sums: dict[str, Traffic] = defaultdict(Traffic)
    for group in by_target:
        if group.zone == "local" and group.key:
            sums[group.key.split("/", 1)[0]] += group.traffic
    return [LocalProvider(name, t, prices.hourly.get(name)) for name, t in sorted(sums.items())]


def _main_provider(providers: list[LocalProvider]) -> LocalProvider | None:
    """The priced local provider with measured throughput that carried the most tokens."""
    measured = [p for p in providers if p.hourly is not None and p.throughput is not None]
    return max(measured, key=lambda p: p.traffic.tokens, default=None)


def _break_even(local: LocalProvider, p: float) -> tuple[int | None, str | None]:
    assert local.hourly is not None and local.throughput is not None
    if p <= 0:
        return None, "the hosted price is zero: self-hosting cannot be cheaper"
    fixed = local.hourly * 24
    volume = fixed / p
    capacity = local.throughput * DAY_SECONDS
    if volume > capacity:
        full = local.hourly / 3600 / local.throughput * 1e6
        return None, (
            f"at the measured {local.throughput:.1f} tokens/s a fully busy {local.name} machine costs "
            f"{full:.4f} per 1M tokens, more than the API's {p * 1e6:.4f}: self-hosting does not break even"
        )
    return round(volume), None


NO_THROUGHPUT = "no local traffic with measured busy time on a provider priced in prices.hourly in this period"


def _why_not(prices: PricesConfig, main: LocalProvider | None) -> str | None:
    """Why break-even cannot be computed yet, or None when it can."""
    if not prices.tokens:
        return "no hosted price configured (prices.tokens): nothing to compare self-hosting with"
    if not prices.hourly:
        return "no hourly cost configured for a local provider (prices.hourly)"
    return NO_THROUGHPUT if main is None else None


@dataclass(frozen=True, slots=True)
class _Alternative:
    """The local traffic at one hosted price, and the break-even against that price."""

    target: str
    price: TokenPrice
    per_token: float
    local_traffic_cost: float
    savings: float
    break_even: int | None
    reason: str | None

    @classmethod
    def of(
        cls, target: str, price: TokenPrice, local: Traffic, main: LocalProvider | None, reason: str | None
    ) -> _Alternative:
        p = per_token(price, local)
        would = (local.prompt_tokens * price.input + local.completion_tokens * price.output) / 1e6
        be, why = _break_even(main, p) if main is not None else (None, reason)
        return cls(target, price, p, would, would - local.cost, be, why)

    def row(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "input_per_million": self.price.input,
            "output_per_million": self.price.output,
            "price_per_million_tokens": _money(self.per_token * 1e6),
            "local_traffic_cost": _money(self.local_traffic_cost),
            "savings": _money(self.savings),
            "break_even_tokens_per_day": self.break_even,
            "reason": self.reason,
        }


def _scenarios(main: LocalProvider, p: float, volumes: dict[str, int]) -> list[dict[str, Any]]:
    assert main.hourly is not None and main.throughput is not None
    capacity = main.throughput * DAY_SECONDS
    rows = []
    for name, volume in volumes.items():
        machines = max(1, math.ceil(volume / capacity))
        local, hosted = machines * main.hourly * 24, volume * p
        rows.append(
            {
                "name": name,
                "tokens_per_day": volume,
                "hosted_cost_per_day": _money(hosted),
                "machines": machines,
                "local_cost_per_day": _money(local),
                "cheaper": "local" if local < hosted else "hosted",
                "savings_per_day": _money(hosted - local),
            }
        )
    return rows


def cost_report(
    engine: Engine,
    prices: PricesConfig,
    period: Period,
    now: dt.datetime,
    volumes: dict[str, int] = DEFAULT_VOLUMES,
    project: str | None = None,
) -> dict[str, Any]:
    """The report ``enclave costs`` prints, as JSON-ready data (every field is explained in docs/cli.md); with
    ``project``, that project's traffic only (the dashboard's view for a key bound to a project)."""
    by_target = traffic_by(engine, period, "target", project)
    total = sum((g.traffic for g in by_target), Traffic())
    local = sum((g.traffic for g in by_target if g.zone == "local"), Traffic())
    hosted = sum((g.traffic for g in by_target if g.zone == "external"), Traffic())
    elapsed = period.elapsed_seconds(now)
    providers = _providers(by_target, prices)
    main = _main_provider(providers)
    reason = _why_not(prices, main)

    alternatives = [
        _Alternative.of(target, price, local, main, reason) for target, price in sorted(prices.tokens.items())
    ]
    cheapest = min(alternatives, key=lambda a: a.per_token, default=None)

    report: dict[str, Any] = {
        "currency": prices.currency,
        "period": {**period.describe(), "elapsed_days": round(elapsed / DAY_SECONDS, 6)},
        **_traffic(total),
        "tokens_per_day": round(total.tokens / (elapsed / DAY_SECONDS)) if elapsed else None,
        "local": {
            **_traffic(local),
            "busy_seconds": round(local.busy_seconds, 6),
            "providers": [_provider(p, elapsed) for p in providers],
        },
        "hosted": {**_traffic(hosted), **_hosted_on_local(hosted, main)},
        "local_on_hosted": [a.row() for a in alternatives],
        "savings": _money(cheapest.savings) if cheapest is not None else None,
        "compared_with": cheapest.target if cheapest is not None else None,
        "break_even_tokens_per_day": None,
        "reason": reason,
        "scenarios": [],
        "by_project": _split(traffic_by(engine, period, "project", project)),
        "by_model": _split(traffic_by(engine, period, "model", project)),
    }
    if reason is None and main is not None and cheapest is not None:
        assert main.hourly is not None and main.throughput is not None
        report["break_even_tokens_per_day"] = cheapest.break_even
        report["reason"] = cheapest.reason
        report["break_even"] = {
            "local_provider": main.name,
            "hourly": main.hourly,
            "fixed_cost_per_day": _money(main.hourly * 24),
            "throughput_tokens_per_second": round(main.throughput, 3),
            "capacity_tokens_per_day": round(main.throughput * DAY_SECONDS),
            "hosted_target": cheapest.target,
            "hosted_price_per_million_tokens": _money(cheapest.per_token * 1e6),
        }
        report["scenarios"] = _scenarios(main, cheapest.per_token, volumes)
    return report


def _provider(provider: LocalProvider, elapsed: float) -> dict[str, Any]:
    t = provider.traffic
    return {
        "provider": provider.name,
        "hourly": provider.hourly,
        **_traffic(t),
        "busy_seconds": round(t.busy_seconds, 6),
        "throughput_tokens_per_second": round(provider.throughput, 3) if provider.throughput else None,
        "utilisation": round(t.busy_seconds / elapsed, 6) if elapsed else None,
    }


def _hosted_on_local(hosted: Traffic, main: LocalProvider | None) -> dict[str, Any]:
    """What the hosted traffic would have cost on local capacity: its busy time at the measured throughput, at
    the hourly cost (the busy hours only; idle capacity is already paid for)."""
    if main is None or main.throughput is None or main.hourly is None:
        return {"cost_on_local": None, "reason": NO_THROUGHPUT}
    busy = hosted.tokens / main.throughput
    return {"cost_on_local": _money(busy * main.hourly / 3600), "busy_seconds_on_local": round(busy, 6)}
