"""Counting the lines of Python a call runs: a measure of work that, unlike wall-clock time, a busy machine
does not disturb (the guard's linear-time tests compare it between text sizes)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


def lines_run(find: Callable[[str], object], text: str) -> int:
    """How many lines of Python ``find(text)`` runs, its libraries' included."""
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        nonlocal count
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        find(text)
    finally:
        sys.settrace(None)
    return count
