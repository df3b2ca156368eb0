"""Requests and tokens per minute, and monthly budgets, per key and per project.

Limits nest (a key inside its project) and every applicable limit must admit the request: the tightest wins.
Windows slide: the previous minute counts in proportion to how much of it still lies within the last 60 s, so
a client cannot double its rate across a minute boundary. Tokens are reserved before the call (the prompt's
estimate plus ``max_tokens``) and settled to the real count after; budgets reserve the estimated cost the same
way, so concurrent requests cannot together overspend. A budget admits a request while what is spent and
reserved stays below the limit: with estimates that bound each request's cost, the month ends at most one
request's cost over its budget, however many requests (and replicas) run at once.

Two backends with the same semantics: ``memory`` (one process) and ``redis`` (shared by every replica; each
check-and-reserve is one atomic Lua script, one round trip).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from enclave.errors import BudgetExceeded, RateLimited, StoreUnavailable

log = logging.getLogger(__name__)
WINDOW = 60


@dataclass(frozen=True, slots=True)
class Quota:
    scope: str  # "key:enc_1a2b3c4d" or "project:claims"
    rpm: int | None
    tpm: int | None


@dataclass(frozen=True, slots=True)
class Budget:
    """A project's monthly budget, and the cost this request may reach (the most any of its targets would
    charge), reserved up front."""

    project: str
    month: str
    limit: float
    block: bool
    estimate: float


@dataclass(slots=True)
class Admission:
    """What a request reserved, to settle when it ends, and the headers that tell the client where it stands."""

    minute: int
    scopes: tuple[str, ...] = ()
    reserved_tokens: int = 0
    budget_key: str | None = None
    reserved_cost: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def _window(now: float) -> tuple[int, float]:
    """The current minute's number and the weight of the previous minute still inside the sliding window."""
    minute = int(now // WINDOW)
    return minute, 1.0 - (now - minute * WINDOW) / WINDOW


def _headers(quotas: list[Quota], used: list[tuple[float, float]], tokens: int, now: float) -> dict[str, str]:
    """OpenAI's x-ratelimit-* headers, for the tightest of the limits that apply."""
    headers: dict[str, str] = {}
    reset = f"{math.ceil(WINDOW - now % WINDOW)}s"
    requests = [(q.rpm, q.rpm - r - 1) for q, (r, _) in zip(quotas, used, strict=True) if q.rpm]
    if requests:
        limit, remaining = min(requests, key=lambda x: x[1])
        headers |= {
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(max(0, int(remaining))),
            "x-ratelimit-reset-requests": reset,
        }
    token_limits = [(q.tpm, q.tpm - t - tokens) for q, (_, t) in zip(quotas, used, strict=True) if q.tpm]
    if token_limits:
        limit, remaining = min(token_limits, key=lambda x: x[1])
        headers |= {
            "x-ratelimit-limit-tokens": str(limit),
            "x-ratelimit-remaining-tokens": str(max(0, int(remaining))),
            "x-ratelimit-reset-tokens": reset,
        }
    return headers


def _refusal(quota: Quota, kind: str, used: float, headers: dict[str, str], now: float) -> RateLimited:
    retry = max(1, math.ceil(WINDOW - now % WINDOW))
    limit = quota.rpm if kind == "requests" else quota.tpm
    scope = quota.scope.split(":", 1)[0]
    return RateLimited(
        f"Rate limit reached for this {scope}: {limit} {kind} per minute (used {int(used)}). Retry after {retry} s.",
        headers={**headers, "Retry-After": str(retry)},
    )


def _budget_headers(spent: float, budget: float) -> dict[str, str]:
    return {"x-enclave-budget-spent": f"{spent:.6f}", "x-enclave-budget-limit": f"{budget:.2f}"}


def _budget_refusal(budget: Budget, spent: float) -> BudgetExceeded:
    return BudgetExceeded(
        f"Project '{budget.project}' has spent its monthly budget ({spent:.2f} of {budget.limit:.2f}).",
        headers=_budget_headers(spent, budget.limit),
    )


class Limiter(Protocol):
    async def admit(self, quotas: list[Quota], tokens: int, budget: Budget | None) -> Admission:
        """Check every limit and the budget, and reserve, in one atomic step; raise when any refuses."""
        ...

    def settle(self, admission: Admission, tokens: int, cost: float) -> None:
        """Replace the reservation by what the request really used."""
        ...

    async def close(self) -> None: ...


SpentLoader = Callable[[str, str], float]  # (project, month) -> spend so far, from the ledger


class MemoryLimiter:
    """One process's counters. Correct for a single replica; the event loop makes each check-and-add atomic."""

    def __init__(self, spent: SpentLoader) -> None:
        self._counts: dict[tuple[str, str, int], float] = {}
        self._spent: dict[str, float] = {}
        self._loading: dict[str, asyncio.Future[float]] = {}
        self._load_spent = spent

    async def _load(self, budget: Budget, key: str) -> None:
        """The month's spend from the ledger, loaded once: the first burst after start-up waits for one load,
        and no request's reservation is overwritten by a load that finishes after it."""
        if key in self._spent:
            return
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(asyncio.to_thread(self._load_spent, budget.project, budget.month))
            self._loading[key] = loading
        try:
            spent = await asyncio.shield(loading)
        finally:
            if loading.done():
                self._loading.pop(key, None)  # a failed load is tried again by the next request
        self._spent.setdefault(key, spent)

    def _used(self, scope: str, minute: int, weight: float) -> tuple[float, float]:
        c = self._counts
        return (
            c.get((scope, "r", minute), 0) + weight * c.get((scope, "r", minute - 1), 0),
            c.get((scope, "t", minute), 0) + weight * c.get((scope, "t", minute - 1), 0),
        )

    async def admit(self, quotas: list[Quota], tokens: int, budget: Budget | None) -> Admission:
        budget_key = None
        if budget is not None:
            budget_key = f"{budget.project}:{budget.month}"
            await self._load(budget, budget_key)
        # From here on no await: the check and the reservation are one step for the event loop.
        now = time.time()
        minute, weight = _window(now)
        used = [self._used(q.scope, minute, weight) for q in quotas]
        headers = _headers(quotas, used, tokens, now)
        for quota, (requests, consumed) in zip(quotas, used, strict=True):
            if quota.rpm and requests + 1 > quota.rpm:
                raise _refusal(quota, "requests", requests, headers, now)
            if quota.tpm and consumed + tokens > quota.tpm:
                raise _refusal(quota, "tokens", consumed, headers, now)
        admission = Admission(minute, tuple(q.scope for q in quotas), tokens, headers=headers)
        if budget is not None and budget_key is not None:
            spent = self._spent[budget_key]
            if budget.block and spent >= budget.limit:
                raise _budget_refusal(budget, spent)
            self._spent[budget_key] = spent + budget.estimate
            admission.budget_key, admission.reserved_cost = budget_key, budget.estimate
            headers |= _budget_headers(spent + budget.estimate, budget.limit)
        for quota in quotas:
            self._add((quota.scope, "r", minute), 1)
            self._add((quota.scope, "t", minute), tokens)
        self._expire(minute)
        return admission

    def settle(self, admission: Admission, tokens: int, cost: float) -> None:
        for scope in admission.scopes:
            self._add((scope, "t", admission.minute), tokens - admission.reserved_tokens)
        if admission.budget_key is not None:
            key = admission.budget_key
            self._spent[key] = self._spent.get(key, 0.0) + cost - admission.reserved_cost

    def _add(self, key: tuple[str, str, int], amount: float) -> None:
        self._counts[key] = self._counts.get(key, 0) + amount

    def _expire(self, minute: int) -> None:
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[2] >= minute - 1}

    async def close(self) -> None:
        return None


# KEYS: four per quota (requests now, requests before, tokens now, tokens before), then the budget's key if any.
# ARGV: previous-minute weight, tokens to reserve, quota count, rpm and tpm per quota (0: no limit), then
# the budget's estimate, limit and block flag (1/0) if any.
# Returns {status, quota index, kind, spent, used...}: status 1 admitted (and counted), 0 refused by a limit,
# 2 refused by the budget, 3 the budget's month is not in Redis yet (nothing counted).
_ADMIT = """
local weight, tokens, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local used = {}
for i = 0, n - 1 do
  local r = tonumber(redis.call('GET', KEYS[4*i+1]) or '0') + weight * tonumber(redis.call('GET', KEYS[4*i+2]) or '0')
  local t = tonumber(redis.call('GET', KEYS[4*i+3]) or '0') + weight * tonumber(redis.call('GET', KEYS[4*i+4]) or '0')
  used[#used+1] = tostring(r)
  used[#used+1] = tostring(t)
  local rpm, tpm = tonumber(ARGV[4+2*i]), tonumber(ARGV[5+2*i])
  if rpm > 0 and r + 1 > rpm then return {0, i, 'requests', '0', unpack(used)} end
  if tpm > 0 and t + tokens > tpm then return {0, i, 'tokens', '0', unpack(used)} end
end
local spent = '0'
if #KEYS > 4 * n then
  local a = 4 + 2 * n
  local value = redis.call('GET', KEYS[4*n+1])
  if not value then return {3, 0, '', '0', unpack(used)} end
  if ARGV[a+2] == '1' and tonumber(value) >= tonumber(ARGV[a+1]) then
    return {2, 0, '', value, unpack(used)}
  end
  spent = redis.call('INCRBYFLOAT', KEYS[4*n+1], ARGV[a])
end
for i = 0, n - 1 do
  redis.call('INCR', KEYS[4*i+1])
  redis.call('EXPIRE', KEYS[4*i+1], 130)
  redis.call('INCRBY', KEYS[4*i+3], tokens)
  redis.call('EXPIRE', KEYS[4*i+3], 130)
end
return {1, 0, '', spent, unpack(used)}
"""
# A settlement changes a month's spend only while it is there: one that reached a key lost or expired would
# create it from the difference alone, and the month would never be loaded from the ledger again.
_SETTLE_COST = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBYFLOAT', KEYS[1], ARGV[1]) end
"""
SETTLE_EVERY = 0.1


class RedisLimiter:
    """Counters in Redis, shared by every replica: one script, one round trip, per request. Settlements (the
    difference between what was reserved and what was used) are summed in memory and sent every 0.1 s in one
    pipeline. Redis unreachable: requests are refused (503), since admitting them unlimited would let one
    replica's outage lift every limit."""

    def __init__(self, url: str, spent: SpentLoader) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._admit = self._redis.register_script(_ADMIT)
        self._settle_cost = self._redis.register_script(_SETTLE_COST)
        self._load_spent = spent
        self._tokens: dict[str, int] = {}
        self._costs: dict[str, float] = {}
        self._settler: asyncio.Task[None] | None = None

    async def admit(self, quotas: list[Quota], tokens: int, budget: Budget | None) -> Admission:
        now = time.time()
        minute, weight = _window(now)
        keys = [f"enclave:rl:{q.scope}:{kind}:{m}" for q in quotas for kind in "rt" for m in (minute, minute - 1)]
        args: list[float | int | str] = [weight, tokens, len(quotas)]
        for quota in quotas:
            args += [quota.rpm or 0, quota.tpm or 0]
        budget_key = None
        if budget is not None:
            budget_key = f"enclave:budget:{budget.project}:{budget.month}"
            keys.append(budget_key)
            args += [repr(budget.estimate), repr(budget.limit), 1 if budget.block else 0]
        result = await self._call(keys, args)
        if int(result[0]) == 3 and budget is not None and budget_key is not None:
            # First use this month, or Redis lost its data: start from the ledger's total, once, for everyone.
            spent = await asyncio.to_thread(self._load_spent, budget.project, budget.month)
            await self._redis.set(budget_key, repr(spent), nx=True, ex=40 * 86400)
            result = await self._call(keys, args)
        status = int(result[0])
        values = [float(v) for v in result[4:]]
        used = list(zip(values[::2], values[1::2], strict=True))
        headers = _headers(quotas, used, tokens, now)
        if status == 0:
            index, kind = int(result[1]), result[2].decode()
            raise _refusal(quotas[index], kind, used[index][0 if kind == "requests" else 1], headers, now)
        admission = Admission(minute, tuple(q.scope for q in quotas), tokens, headers=headers)
        if budget is not None:
            spent = float(result[3])
            if status == 2:
                raise _budget_refusal(budget, spent)
            admission.budget_key, admission.reserved_cost = budget_key, budget.estimate
            headers |= _budget_headers(spent, budget.limit)
        self._start_settler()
        return admission

    def settle(self, admission: Admission, tokens: int, cost: float) -> None:
        delta = tokens - admission.reserved_tokens
        if delta:
            for scope in admission.scopes:
                key = f"enclave:rl:{scope}:t:{admission.minute}"
                self._tokens[key] = self._tokens.get(key, 0) + delta
        if admission.budget_key is not None and cost != admission.reserved_cost:
            key = admission.budget_key
            self._costs[key] = self._costs.get(key, 0.0) + cost - admission.reserved_cost

    async def _call(self, keys: list[str], args: list[float | int | str]) -> list[bytes]:
        from redis.exceptions import RedisError

        try:
            return await self._admit(keys=keys, args=args)
        except RedisError as exc:
            log.error("limits store unreachable: %s", exc.__class__.__name__)
            raise StoreUnavailable("The rate-limit store is unreachable; the request was not admitted.") from exc

    def _start_settler(self) -> None:
        if self._settler is None:
            self._settler = asyncio.get_running_loop().create_task(self._settle_loop())

    async def _settle_loop(self) -> None:
        while True:
            await asyncio.sleep(SETTLE_EVERY)
            await self._flush()

    async def _flush(self) -> None:
        if not self._tokens and not self._costs:
            return
        tokens, self._tokens = self._tokens, {}
        costs, self._costs = self._costs, {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, delta in tokens.items():
                    pipe.incrby(key, delta)
                for key, amount in costs.items():
                    await self._settle_cost(keys=[key], args=[repr(amount)], client=pipe)
                await pipe.execute()
        except Exception as exc:  # settling is best effort: the reservation already counted
            log.warning("could not settle reservations in Redis: %s", exc.__class__.__name__)

    async def close(self) -> None:
        if self._settler is not None:
            self._settler.cancel()
        await self._flush()
        await self._redis.aclose()
