"""The circuit breaker on its own clock: opens after its failures, lets exactly one probe through once the
cooldown has passed, closes when the probe succeeds and opens again when it fails. No waiting on real time:
the clock is the test's."""

from __future__ import annotations

from enclave.routing.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock) -> CircuitBreaker:
    breaker = CircuitBreaker(failures_to_open=2, cooldown=30.0, clock=clock)
    breaker.failed("500")
    assert breaker.state == "closed" and breaker.allow()
    breaker.failed("500")
    assert breaker.state == "open"
    return breaker


def test_an_open_circuit_sends_nothing_until_its_cooldown_has_passed() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 29.9
    assert not breaker.allow() and breaker.state == "open"


def test_after_the_cooldown_exactly_one_probe_goes_and_its_success_closes_the_circuit() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 30.0
    assert breaker.allow() and breaker.state == "half_open"
    assert not breaker.allow()  # one probe at a time
    breaker.succeeded()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()
    assert breaker.snapshot()["consecutive_failures"] == 0


def test_a_failed_probe_opens_the_circuit_for_another_cooldown() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 30.0
    assert breaker.allow()
    breaker.failed("500 again")
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow() and breaker.state == "half_open"


def test_a_probe_without_a_verdict_lets_the_next_request_probe() -> None:
    clock = Clock()
    breaker = opened(clock)
    clock.now += 30.0
    assert breaker.allow()
    breaker.released()  # the client went away before the probe's answer
    assert breaker.allow() and breaker.state == "half_open"
