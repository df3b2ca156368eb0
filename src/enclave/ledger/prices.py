"""What a request cost: per-token prices for hosted targets, hourly infrastructure cost for local ones.

Self-hosted cost is not zero: it is the hardware's hourly cost spread over the busy time each request
measurably used (the embedded engine measures its own decode time per sequence; for a local upstream server,
the time the request was in flight, shared with whatever ran beside it). That is what makes "when does
self-hosting pay?" answerable from real traffic.
"""

from __future__ import annotations

from enclave.config import PricesConfig
from enclave.routing.table import Target


class PriceSheet:
    def __init__(self, config: PricesConfig) -> None:
        self.currency = config.currency
        self._tokens = config.tokens
        self._hourly = config.hourly

    def cost(self, target: Target, prompt_tokens: int, completion_tokens: int, busy_seconds: float | None) -> float:
        price = self._tokens.get(str(target))
        if price is not None:
            return (prompt_tokens * price.input + completion_tokens * price.output) / 1e6
        hourly = self._hourly.get(target.provider)
        if hourly is not None and busy_seconds:
            return hourly * busy_seconds / 3600
        return 0.0

    def estimate(self, target: Target, prompt_tokens: int, completion_tokens: int, seconds_per_token: float) -> float:
        """An upper-bound guess before the call, reserved against the budget and settled after: per-token prices,
        or the hourly cost of the busy time so many tokens take at ``seconds_per_token`` (measured, see
        ``BusyRates``)."""
        price = self._tokens.get(str(target))
        if price is not None:
            return (prompt_tokens * price.input + completion_tokens * price.output) / 1e6
        hourly = self._hourly.get(target.provider)
        if hourly is not None:
            return hourly * seconds_per_token * (prompt_tokens + completion_tokens) / 3600
        return 0.0
