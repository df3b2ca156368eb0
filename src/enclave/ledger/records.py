"""The ledger's row: one per request, whatever its outcome."""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    at_us: int
    endpoint: str
    model: str
    status: str
    latency_ms: float
    key_prefix: str | None = None
    project: str | None = None
    target: str | None = None
    zone: str | None = None
    rule: str | None = None
    data_class: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    ttft_ms: float | None = None
    compute_seconds: float | None = None
    cost: float = 0.0
    guard: str | None = None
    tools: str | None = None  # see tools_called: names and counts, never arguments
    constrained: bool = False  # the answer's shape was enforced (a JSON response format or a forced tool call)

    @property
    def day(self) -> str:
        """The UTC day of ``at_us``, as reports group and bound by it."""
        return time.strftime("%Y-%m-%d", time.gmtime(self.at_us / 1e6))

    def row(self) -> dict[str, Any]:
        day = self.day
        return {**dataclasses.asdict(self), "day": day, "month": day[:7]}


# The usage.tools column's width. Function names are at most 64 characters, and an answer can call many
# tools: what does not fit is counted, not listed.
TOOLS_LENGTH = 1024
_NAME_LENGTH = 64
_ROOM_FOR_REST = 24  # ", +NNNNNNNNNN more"


def tools_called(counts: dict[str, int]) -> str | None:
    """ "name=count" for each tool called, by name, within TOOLS_LENGTH characters ("get_weather=2, search=1");
    names past the bound are summed up as "+N more"."""
    if not counts:
        return None
    parts = [f"{name[:_NAME_LENGTH]}={n}" for name, n in sorted(counts.items())]
    kept: list[str] = []
    used = 0
    for part in parts:
        used += len(part) + 2
        if used > TOOLS_LENGTH - _ROOM_FOR_REST:
            break
        kept.append(part)
    if len(kept) < len(parts):
        kept.append(f"+{len(parts) - len(kept)} more")
    return ", ".join(kept)


@dataclass(frozen=True, slots=True)
class Retained:
    """A prompt and its answer, kept only because the project's retention policy says so, until it expires."""

    request_id: str
    project: str | None
    at_us: int
    expires_us: int
    prompt: str
    answer: str


def month_of(at: float | None = None) -> str:
    return time.strftime("%Y-%m", time.gmtime(at if at is not None else time.time()))
