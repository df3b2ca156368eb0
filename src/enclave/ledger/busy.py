"""Busy time shared fairly between the requests in flight on one provider.

A virtual clock advances by dt/n while n requests are in flight; a request's share is the clock's advance
between its start and its end. O(1) per event, and the shares of all requests add up to the provider's busy
wall time exactly.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class BusyClock:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # seconds; a test passes its own
        self._virtual = 0.0
        self._inflight = 0
        self._last = clock()

    def _advance(self) -> None:
        now = self._clock()
        if self._inflight:
            self._virtual += (now - self._last) / self._inflight
        self._last = now

    def start(self) -> float:
        self._advance()
        self._inflight += 1
        return self._virtual

    def stop(self, started: float) -> float:
        """Seconds of busy time this request is charged for."""
        self._advance()
        self._inflight -= 1
        return self._virtual - started


class BusyRates:
    """Busy seconds per token, measured per target, for reserving a self-hosted request's cost before the call.

    A request's rate is its busy time over the tokens an estimate can know beforehand (the prompt's estimate
    and the completion), so rate × (prompt estimate + ``max_tokens``) bounds what a request of the same kind
    costs. The estimate takes the highest rate of the last ``WINDOW`` requests: a reservation too small lets
    concurrent requests overspend a budget, one too large only refuses early. Before any measurement a
    conservative default applies (a CPU-served model of a few billion parameters is slower than 0.25 s/token
    only alone on very small hardware). The measured rate is doubled: the hardware may be slower for the next
    requests than for the last ones (other work on the machine), and reserving too much only refuses early.
    """

    WINDOW = 32
    DEFAULT_SECONDS_PER_TOKEN = 0.25
    HEADROOM = 2.0

    def __init__(self) -> None:
        self._recent: dict[str, deque[float]] = {}

    def observe(self, target: str, busy_seconds: float, tokens: int) -> None:
        if busy_seconds > 0 and tokens > 0:
            self._recent.setdefault(target, deque(maxlen=self.WINDOW)).append(busy_seconds / tokens)

    def seconds_per_token(self, target: str) -> float:
        recent = self._recent.get(target)
        return self.HEADROOM * max(recent) if recent else self.DEFAULT_SECONDS_PER_TOKEN
