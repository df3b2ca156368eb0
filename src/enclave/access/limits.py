"""Requests and tokens per minute, and monthly budgets, per key and per project.

Limits nest (a key inside its project) and every applicable limit must admit the request: the tightest wins.
Windows slide: the previous minute counts in proportion to how much of it still lies within the last 60 s, so
a client cannot double its rate across a minute boundary. Tokens are reserved before the call (the prompt's
estimate plus ``max_tokens``) and settled to the real count after; budgets reserve the estimated cost the same
way, so concurrent requests cannot together overspend.

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


@dataclass(slots=True)
class Admission:
    """What a request reserved, to settle when it ends, and the headers that tell the client where it stands."""

    minute: int
    scopes: tuple[str, ...] = ()
    reserved_tokens: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class BudgetHold:
    key: str
    reserved: float
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
        headers |= {"x-ratelimit-limit-requests": str(limit),
                    "x-ratelimit-remaining-requests": str(max(0, int(remaining))),
                    "x-ratelimit-reset-requests": reset}
    token_limits = [(q.tpm, q.tpm - t - tokens) for q, (_, t) in zip(quotas, used, strict=True) if q.tpm]
    if token_limits:
        limit, remaining = min(token_limits, key=lambda x: x[1])
        headers |= {"x-ratelimit-limit-tokens": str(limit),
                    "x-ratelimit-remaining-tokens": str(max(0, int(remaining))),
                    "x-ratelimit-reset-tokens": reset}
    return headers


def _refusal(quota: Quota, kind: str, used: float, headers: dict[str, str], now: float) -> RateLimited:
    retry = max(1, math.ceil(WINDOW - now % WINDOW))
    limit = quota.rpm if kind == "requests" else quota.tpm
    scope = quota.scope.split(":", 1)[0]
    return RateLimited(
        f"Rate limit reached for this {scope}: {limit} {kind} per minute (used {int(used)}). "
        f"Retry after {retry} s.",
        headers={**headers, "Retry-After": str(retry)},
    )


def _budget_headers(spent: float, budget: float) -> dict[str, str]:
    return {"x-enclave-budget-spent": f"{spent:.6f}", "x-enclave-budget-limit": f"{budget:.2f}"}


class Limiter(Protocol):
    async def admit(self, quotas: list[Quota], tokens: int) -> Admission: ...

    def settle(self, admission: Admission, tokens: int) -> None: ...

    async def reserve(self, project: str, month: str, estimate: float, budget: float, block: bool) -> BudgetHold:
        ...

    def settle_budget(self, hold: BudgetHold, cost: float) -> None: ...

    async def close(self) -> None: ...


SpentLoader = Callable[[str, str], float]  # (project, month) -> spend so far, from the ledger


class MemoryLimiter:
    """One process's counters. Correct for a single replica; the event loop makes each check-and-add atomic."""

    def __init__(self, spent: SpentLoader) -> None:
        self._counts: dict[tuple[str, str, int], float] = {}
        self._spent: dict[str, float] = {}
        self._load_spent = spent

    def _used(self, scope: str, minute: int, weight: float) -> tuple[float, float]:
        c = self._counts
        return (c.get((scope, "r", minute), 0) + weight * c.get((scope, "r", minute - 1), 0),
                c.get((scope, "t", minute), 0) + weight * c.get((scope, "t", minute - 1), 0))

    async def admit(self, quotas: list[Quota], tokens: int) -> Admission:
        now = time.time()
        minute, weight = _window(now)
        used = [self._used(q.scope, minute, weight) for q in quotas]
        headers = _headers(quotas, used, tokens, now)
        for quota, (requests, consumed) in zip(quotas, used, strict=True):
            if quota.rpm and requests + 1 > quota.rpm:
                raise _refusal(quota, "requests", requests, headers, now)
            if quota.tpm and consumed + tokens > quota.tpm:
                raise _refusal(quota, "tokens", consumed, headers, now)
        for quota in quotas:
            self._add((quota.scope, "r", minute), 1)
            self._add((quota.scope, "t", minute), tokens)
        self._expire(minute)
        return Admission(minute, tuple(q.scope for q in quotas), tokens, headers)

    def settle(self, admission: Admission, tokens: int) -> None:
        for scope in admission.scopes:
            self._add((scope, "t", admission.minute), tokens - admission.reserved_tokens)

    async def reserve(self, project: str, month: str, estimate: float, budget: float, block: bool) -> BudgetHold:
        key = f"{project}:{month}"
        if key not in self._spent:
            self._spent[key] = await asyncio.to_thread(self._load_spent, project, month)
        spent = self._spent[key]
        if block and spent + estimate > budget:
            raise BudgetExceeded(f"Project '{project}' has spent its monthly budget ({spent:.2f} of {budget:.2f}).",
                                 headers=_budget_headers(spent, budget))
        self._spent[key] = spent + estimate
        return BudgetHold(key, estimate, _budget_headers(spent + estimate, budget))

    def settle_budget(self, hold: BudgetHold, cost: float) -> None:
        self._spent[hold.key] = self._spent.get(hold.key, 0.0) + cost - hold.reserved

    def _add(self, key: tuple[str, str, int], amount: float) -> None:
        self._counts[key] = self._counts.get(key, 0) + amount

    def _expire(self, minute: int) -> None:
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[2] >= minute - 1}

    async def close(self) -> None:
        return None


# KEYS: four per quota (requests now, requests before, tokens now, tokens before);
# ARGV: previous-minute weight, tokens to reserve, then rpm and tpm per quota (0: no limit).
# Returns {1, used...} when admitted (and counts it), {0, quota index, kind, used...} when refused.
_ADMIT = """
local weight, tokens = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = {}
for i = 0, #KEYS / 4 - 1 do
  local r = tonumber(redis.call('GET', KEYS[4*i+1]) or '0') + weight * tonumber(redis.call('GET', KEYS[4*i+2]) or '0')
  local t = tonumber(redis.call('GET', KEYS[4*i+3]) or '0') + weight * tonumber(redis.call('GET', KEYS[4*i+4]) or '0')
  used[#used+1] = tostring(r)
  used[#used+1] = tostring(t)
  local rpm, tpm = tonumber(ARGV[3+2*i]), tonumber(ARGV[4+2*i])
  if rpm > 0 and r + 1 > rpm then return {0, i, 'requests', unpack(used)} end
  if tpm > 0 and t + tokens > tpm then return {0, i, 'tokens', unpack(used)} end
end
for i = 0, #KEYS / 4 - 1 do
  redis.call('INCR', KEYS[4*i+1])
  redis.call('EXPIRE', KEYS[4*i+1], 130)
  redis.call('INCRBY', KEYS[4*i+3], tokens)
  redis.call('EXPIRE', KEYS[4*i+3], 130)
end
return {1, 0, '', unpack(used)}
"""

# KEYS[1]: the project's spend this month; ARGV: estimate, budget, block (1/0).
_RESERVE = """
local spent = redis.call('GET', KEYS[1])
if not spent then return {'missing', '0'} end
spent = tonumber(spent)
if ARGV[3] == '1' and spent + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return {'refused', tostring(spent)} end
return {'ok', redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])}
"""


class RedisLimiter:
    """Counters in Redis, shared by every replica. Redis unreachable: requests are refused (503), since
    admitting them unlimited would let one replica's outage lift every limit."""

    def __init__(self, url: str, spent: SpentLoader) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._admit = self._redis.register_script(_ADMIT)
        self._reserve = self._redis.register_script(_RESERVE)
        self._load_spent = spent
        self._pending: set[asyncio.Task[None]] = set()

    async def admit(self, quotas: list[Quota], tokens: int) -> Admission:
        now = time.time()
        minute, weight = _window(now)
        keys = [f"enclave:rl:{q.scope}:{kind}:{m}" for q in quotas for kind in "rt" for m in (minute, minute - 1)]
        # The script wants requests now/before, tokens now/before: the comprehension above yields exactly that.
        args: list[float | int] = [weight, tokens]
        for quota in quotas:
            args += [quota.rpm or 0, quota.tpm or 0]
        result = await self._call(self._admit, keys, args)
        values = [float(v) for v in result[3:]]
        used = list(zip(values[::2], values[1::2], strict=True))
        headers = _headers(quotas, used, tokens, now)
        if int(result[0]) == 0:
            index, kind = int(result[1]), result[2].decode()
            quota = quotas[index]
            raise _refusal(quota, kind, used[index][0 if kind == "requests" else 1], headers, now)
        return Admission(minute, tuple(q.scope for q in quotas), tokens, headers)

    def settle(self, admission: Admission, tokens: int) -> None:
        delta = tokens - admission.reserved_tokens
        if delta and admission.scopes:
            keys = [f"enclave:rl:{scope}:t:{admission.minute}" for scope in admission.scopes]
            self._background(self._incr(keys, delta))

    async def reserve(self, project: str, month: str, estimate: float, budget: float, block: bool) -> BudgetHold:
        key = f"enclave:budget:{project}:{month}"
        args = [estimate, budget, 1 if block else 0]
        status, value = await self._call(self._reserve, [key], args)
        if status == b"missing":
            # First use this month, or Redis lost its data: start from the ledger's total, once, for everyone.
            spent = await asyncio.to_thread(self._load_spent, project, month)
            await self._redis.set(key, repr(spent), nx=True, ex=40 * 86400)
            status, value = await self._call(self._reserve, [key], args)
        spent = float(value)
        if status == b"refused":
            raise BudgetExceeded(f"Project '{project}' has spent its monthly budget ({spent:.2f} of {budget:.2f}).",
                                 headers=_budget_headers(spent, budget))
        return BudgetHold(key, estimate, _budget_headers(spent, budget))

    def settle_budget(self, hold: BudgetHold, cost: float) -> None:
        if cost != hold.reserved:
            self._background(self._redis.incrbyfloat(hold.key, cost - hold.reserved))

    async def _call(self, script, keys: list[str], args: list[float | int]) -> list:  # type: ignore[no-untyped-def,type-arg]
        from redis.exceptions import RedisError

        try:
            return await script(keys=keys, args=args)
        except RedisError as exc:
            log.error("limits store unreachable: %s", exc)
            raise StoreUnavailable("The rate-limit store is unreachable; the request was not admitted.") from exc

    async def _incr(self, keys: list[str], delta: int) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.incrby(key, delta)
            await pipe.execute()

    def _background(self, work) -> None:  # type: ignore[no-untyped-def]
        async def run() -> None:
            try:
                await work
            except Exception as exc:  # settling is best effort: the reservation already counted
                log.warning("could not settle a reservation in Redis: %s", exc)

        task = asyncio.get_running_loop().create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._redis.aclose()
