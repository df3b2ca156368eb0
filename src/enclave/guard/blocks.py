"""The addressee of a postal address: the lines written above its street (a letterhead, a signature, a label).

By the convention every postal service follows, the lines of an address block above the street name who it is
for: a person, a company, or both ("Pedro Alves / Banco Santander (Brasil) S.A. / 52 Huntly Street"). A company
there is an organisation whether or not any word of it looks like one ("Innography", "CBS").
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from itertools import accumulate

from enclave.guard.tokens import words_before

Span = tuple[str, int, int]

# A line that names someone: capitalised words and what joins them, brackets and legal forms included
# ("Eco Wave Power Global AB (publ)", "Urban&Civic PLC", "aTyr Pharma Inc."); no sentence, label or number.
_NAME_LINE = re.compile(r"(?:[A-Z]|[a-z]+[A-Z])[^\n:,;!?]{0,80}")
_WORDS_OF_A_NAME = re.compile(r"(?:[A-Z(&\d–-]|[a-z]+[A-Z]|(?:of|and|de|du|la|van|von|der|publ)\b)")
# A line of the block that is someone's role, not a name: "Physical oceanographer", "Biomedical engineer".
_ROLE_LINE = re.compile(r"[A-Z][a-z]+(?: [a-z]+){1,3}")
_BLOCK = 4  # lines above the street that can still belong to its address block


def addressees(text: str, spans: list[Span]) -> Iterator[Span]:
    """ORGANIZATION spans for the addressee lines above each address that no other span covers."""
    addresses = [start for kind, start, _ in spans if kind == "ADDRESS"]
    if not addresses:
        return  # most texts: no address, no block to read
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    lines = [(start, text.find("\n", start) % (len(text) + 1)) for start in starts]
    covered = _Covered(spans)
    for start in addresses:
        row = bisect_right(starts, start) - 1
        if words_before(text, start):
            continue  # the address starts inside a sentence, not a block (a quoting or list mark is no word)
        k, blank = row - 1, 0
        while k >= 0 and row - k <= _BLOCK + blank:
            body = _body(text, *lines[k])
            if body is None:
                blank += 1
                if blank > 1:
                    break
                k -= 1
                continue
            start_k, end_k = body
            line = text[start_k:end_k]
            if covered.within(start_k, end_k):
                k -= 1  # a name or company already found: the block goes on above it
                continue
            if _ROLE_LINE.fullmatch(line):
                k -= 1
                continue
            if not _NAME_LINE.fullmatch(line) or not all(_WORDS_OF_A_NAME.match(w) for w in line.split()):
                break
            yield "ORGANIZATION", start_k, end_k
            k -= 1


class _Covered:
    """Whether one of the spans covers a stretch of text, in logarithmic time (a line is asked about for each
    address below it; a scan of every span each time made many addresses quadratic)."""

    def __init__(self, spans: list[Span]) -> None:
        ordered = sorted((start, end) for _, start, end in spans)
        self._starts = [start for start, _ in ordered]
        self._reach = list(accumulate((end for _, end in ordered), max))  # the furthest end of spans so far

    def within(self, start: int, end: int) -> bool:
        k = bisect_right(self._starts, start)
        return k > 0 and self._reach[k - 1] >= end


def _body(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Where a line's text is, without its marks and trailing spaces; None for an empty line."""
    line = text[start:end]
    lead = next((k for k, c in enumerate(line) if c.isalnum() or c == "("), None)
    if lead is None:
        return None
    return start + lead, start + len(line.rstrip())
