"""Busy time shared fairly between the requests in flight on one provider.

A virtual clock advances by dt/n while n requests are in flight; a request's share is the clock's advance
between its start and its end. O(1) per event, and the shares of all requests add up to the provider's busy
wall time exactly.
"""

from __future__ import annotations

import time


class BusyClock:
    def __init__(self) -> None:
        self._virtual = 0.0
        self._inflight = 0
        self._last = time.monotonic()

    def _advance(self) -> None:
        now = time.monotonic()
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
