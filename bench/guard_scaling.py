"""How the privacy guard's time grows with the length of hostile text: one row per shape of text, one column
per size, and the growth from each size to the next (x2.0 is linear, x4.0 quadratic).

    .venv/bin/python bench/guard_scaling.py                       # every shape, 5K to 80K characters
    .venv/bin/python bench/guard_scaling.py --sizes 10000,40000 --shapes caps,hyphens

Each shape repeats a small unit up to the size (words the tagger reads one by one, digits the identifier
patterns try at every position, line breaks the address blocks walk, single tokens the patterns rescan), the
forms a client can send to make a scan slow. CPU time of Guard.find, best of --repeat runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from enclave.config import GuardConfig
from enclave.guard.scanner import Guard


def repeat(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


# name -> text of a given size
SHAPES: dict[str, Callable[[int], str]] = {
    "prose": repeat(
        "Jane Roe (jane.roe@example.com, +1 415 555 2671) lives at 221 Baker Street, London NW1 6XE. "
        "Her card is 4111 1111 1111 1111 and she was born on 5 March 1953. "
    ),
    "caps": repeat("Alpha Bravo Tomaszewski Neupre Kowalczyk Delta "),
    "caps-lines": repeat("Alpha Bravo Tomaszewski\n"),
    "caps-commas": repeat("Tomaszewski, "),
    "caps-sentences": repeat("Tomaszewski went. "),
    "caps-words": repeat("Ab cd "),
    "companies": repeat("Acme Ltd Initech Inc Globex Corp "),
    "function-caps": repeat("The In Of To "),
    "given-words": repeat("Rose Will Mark Grant "),
    "title-names": repeat("Mr. Hunt and Mrs. Price, "),
    "lists": repeat("Lewis, Ashley, Austin and Tracey, "),
    "digits": repeat("1234567890"),
    "digit-groups": repeat("12 34 56 78 90 "),
    "digit-dashes": repeat("1-2-3-4-5-6-7-8-9-0-"),
    "dotted-digits": repeat("1.2.3.4.5.6.7.8.9."),
    "colons": repeat("1:2:a:b:"),
    "newlines": repeat("\n"),
    "word-lines": repeat("Name\n"),
    "escaped-newlines": repeat("\\n"),
    "escaped-names": repeat("\\nJane"),
    "spaces": lambda size: " " * (size - 4) + "Jane",
    "label-spaces": lambda size: "MRN" + " " * (size - 4) + "!",
    "unit-spaces": lambda size: "apt" + " " * (size - 4) + "!",
    "cue-spaces": lambda size: "address" + " " * (size - 8) + "!",
    "phone-spaces": lambda size: "call 412 8721" + " " * (size - 14) + "!",
    "letters": repeat("a"),
    "hyphens": repeat("Ab-"),
    "apostrophes": repeat("Ab'"),
    "jwt-starts": repeat("eyJ-"),
    "email-local": lambda size: repeat("a.")(size - 1) + "@",
    "email-hyphens": lambda size: repeat("Ab-")(size - 1) + "@",
    "email-domains": repeat("a@b.c"),
    "key-headers": repeat("-----BEGIN PRIVATE KEY-----\n"),
    "secrets": repeat("password: "),
    "initials": repeat("A."),
    "abbreviations": repeat("Ltd."),
    "addresses": repeat("221 Baker Street\n"),
    "addresses-one-line": repeat("221 Baker Street, "),
    "address-blocks": repeat("Pedro Alves\nBanco Santander S.A.\n52 Huntly Street\nLondon\n\n"),
    "glued-streets": repeat("Lange Strasse 69 "),
    "units": repeat("Apt 5 "),
    "listings": repeat("ISHS VII/SHS CL-DIST GBP "),
    "dates": repeat("5/25/1953 "),
    "ipv6": repeat("a:b:"),
    # The evidence the name tagger reads: addresses that spell names, names in lower case, home folders, pasted
    # records, places and dates tied to people, British postcodes closing an address.
    "spelt-names": repeat("anna.kowalska@example.com wrote to anna kowalska, "),
    "lower-names": repeat("anna kowalska and jan nowak "),
    "home-folders": repeat("C:\\Users\\akowalska\\ "),
    "json-records": repeat('{"name":"Anna Kowalska","nom":"Caron","city":"Leeds"},'),
    "csv-rows": lambda size: "nachname;vorname;ort\n" + repeat("Kowalska;Anna;Leeds\n")(size - 21),
    "place-cues": repeat("lives in Leeds, "),
    "health-dates": repeat("admitted 12/03/2025 - 14/03/2025 "),
    "postcodes": repeat("Flat 2, 9 Mill Lane, Sheffield S3 8LT, "),
}


def seconds(guard: Guard, text: str, repeats: int) -> float:
    """Best CPU time of Guard.find over the repeats; NaN when the guard fails on the text."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        try:
            guard.find(text)
        except RecursionError:
            return float("nan")
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5000,10000,20000,40000,80000")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    guard = Guard(GuardConfig())
    guard.find("Warm the lexicon up: Jane Roe, 221 Baker Street.")
    print(f"{'shape':<20}" + "".join(f"{s:>10}" for s in sizes) + "   (ms; growth per step)", flush=True)
    for name in args.shapes.split(","):
        times = [seconds(guard, SHAPES[name](size), args.repeat) for size in sizes]
        growth = "  ".join(f"x{b / a:.1f}" if a > 0.001 else "-" for a, b in pairwise(times))
        print(f"{name:<20}" + "".join(f"{t * 1000:>10.0f}" for t in times) + f"   {growth}", flush=True)


if __name__ == "__main__":
    main()
