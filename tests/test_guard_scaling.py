"""The guard's work grows linearly with the text: hostile shapes of text four times as long cost about four times
as much, never sixteen (what made 80,000 characters stall every stream for 16 s). Work is counted as the lines of
Python run, which no busy machine changes; what the regular expressions do inside one call is compared in CPU
time, with a wide margin. bench/guard_scaling.py prints the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from enclave.config import GuardConfig
from enclave.guard.scanner import Guard
from tests.tracing import lines_run

# Organisations on (they are off by default), so the shapes that once made the company tagger slow are read.
GUARD = Guard(GuardConfig(entities={"types": ["PERSON", "LOCATION", "ADDRESS", "ORGANIZATION"]}))


def repeat(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


# Each was super-linear once: the tagger's runs of companies, function words and given names; the per-line and
# per-address rescans of address blocks; one long line of many short runs; the backtracking of patterns over long
# runs of spaces, hyphenated tokens, e-mail local parts, JWT starts and unclosed private keys.
SHAPES: dict[str, Callable[[int], str]] = {
    "companies": repeat("Acme Ltd Initech Inc Globex Corp "),
    "function words": repeat("The In Of To "),
    "given names": repeat("Rose Will Mark Grant "),
    "short runs": repeat("Ab cd "),
    "initials": repeat("A."),
    "address lines": repeat("221 Baker Street\n"),
    "address blocks": repeat("Pedro Alves\nBanco Santander S.A.\n52 Huntly Street\nLondon\n\n"),
    "addresses on one line": repeat("221 Baker Street, "),
    "label and spaces": lambda size: "MRN" + " " * (size - 4) + "!",
    "unit and spaces": lambda size: "apt" + " " * (size - 4) + "!",
    "hyphenated token": repeat("Ab-"),
    "e-mail local part": lambda size: repeat("a.")(size - 1) + "@",
    "JWT starts": repeat("eyJ-"),
    "private key headers": repeat("-----BEGIN PRIVATE KEY-----\n"),
    "prose": repeat("Jane Roe (jane.roe@example.com, +1 415 555 2671) lives at 221 Baker Street, London. "),
    # The evidence the name tagger reads: addresses that spell names, names in lower case, pasted records,
    # places and dates tied to people, British postcodes closing an address.
    "spelt names": repeat("anna.kowalska@example.com wrote to anna kowalska, "),
    "json records": repeat('{"name":"Anna Kowalska","nom":"Caron","city":"Leeds"},'),
    "table rows": lambda size: "nachname;vorname;ort\n" + repeat("Kowalska;Anna;Leeds\n")(size - 21),
    "tied places and dates": repeat("lives in Leeds, admitted 12/03/2025 - 14/03/2025, "),
    "postcodes": repeat("Flat 2, 9 Mill Lane, Sheffield S3 8LT, "),
}


def cpu_seconds(text: str) -> float:
    best = float("inf")
    for _ in range(3):  # the least of three: what the scan costs, not what else ran meanwhile
        started = time.process_time()
        GUARD.find(text)
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("shape", SHAPES)
def test_work_grows_linearly_with_hostile_text(shape: str) -> None:
    small, large = lines_run(GUARD.find, SHAPES[shape](2_000)), lines_run(GUARD.find, SHAPES[shape](8_000))
    assert large <= 5 * small, f"{shape}: {small} lines for 2,000 characters, {large} for 8,000"


@pytest.mark.parametrize(
    "shape",
    [
        "label and spaces",
        "unit and spaces",
        "hyphenated token",
        "e-mail local part",
        "function words",
        "JWT starts",
        "private key headers",
        "address blocks",
        "companies",
    ],
)
def test_pattern_time_grows_linearly_with_hostile_text(shape: str) -> None:
    small, large = cpu_seconds(SHAPES[shape](20_000)), cpu_seconds(SHAPES[shape](80_000))
    # Linear is 4 times; quadratic, 16. A margin for a busy machine, far from what a rescan would cost.
    assert large < 10 * max(small, 0.002), f"{shape}: {small:.3f} s for 20,000 characters, {large:.3f} s for 80,000"


def test_a_long_run_of_companies_is_read_not_failed() -> None:
    # It recursed once per company: 1,000 companies in one run hit Python's recursion limit (the guard failed).
    text = "Acme Ltd " * 3000
    assert len([f for f in GUARD.find(text) if f.entity_type == "ORGANIZATION"]) == 3000
