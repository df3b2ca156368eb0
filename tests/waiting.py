"""Waiting on a condition, with a deadline, where a test would otherwise sleep and hope the work was done."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float = 30.0, interval: float = 0.05, message: str = "the condition"
) -> T:
    """Ask ``condition`` until it returns something true, and return that; fail the test if ``timeout`` seconds
    pass first. The deadline is generous on purpose: a busy machine makes background work slower, not wrong."""
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} did not hold within {timeout} s")
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], T], seconds: float = 30.0, interval: float = 0.01, message: str = "the condition"
) -> T:
    """``wait_until`` inside an event loop: the loop goes on running (and with it the work waited for)."""
    try:
        async with asyncio.timeout(seconds):
            # Polling: what is waited for (an engine's queue, a row) has no event to wait on.
            while not (result := condition()):  # noqa: ASYNC110
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"{message} did not hold within {seconds} s") from None
    return result
