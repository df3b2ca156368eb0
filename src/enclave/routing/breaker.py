"""A circuit breaker per target: stop sending to what keeps failing, probe it after a while, come back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

State = Literal["closed", "open", "half_open"]


@dataclass(slots=True)
class CircuitBreaker:
    failures_to_open: int
    cooldown: float
    state: State = "closed"
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False
    last_error: str | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)  # seconds; a test passes its own

    def allow(self) -> bool:
        """May a request go to this target now? In half-open state, exactly one probe at a time."""
        if self.state == "open":
            if self.clock() - self.opened_at < self.cooldown:
                return False
            self.state = "half_open"
        if self.state == "half_open":
            if self.probing:
                return False
            self.probing = True
        return True

    def succeeded(self) -> None:
        self.state, self.failures, self.probing = "closed", 0, False

    def failed(self, error: str) -> None:
        self.last_error = error
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.failures_to_open:
            self.state, self.opened_at, self.probing = "open", self.clock(), False

    def released(self) -> None:
        """A probe ended without a verdict (e.g. the client went away): let the next request probe."""
        self.probing = False

    def snapshot(self) -> dict[str, object]:
        return {"state": self.state, "consecutive_failures": self.failures, "last_error": self.last_error}
