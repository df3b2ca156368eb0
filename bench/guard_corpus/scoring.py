"""Scores detectors on the realistic corpus: span recall, clean texts flagged and time, by genre, language and type.

A gold span counts as found when a detector's findings, of any type, cover 90% of its letters and digits (what
matters to a guard is that the value does not leave, not what it was called). A clean text (no gold span) is
flagged when the detector finds anything in it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from guard_corpus.records import GENRES, LANGUAGES, TYPES, Record

Finding = tuple[str, int, int]
Detector = Callable[[str], list[Finding]]
COVERAGE = 0.9
NORMAL_LENGTH = 300  # characters: time is also reported per this many, the unit


def covers(found: Iterable[Finding], start: int, end: int, text: str) -> bool:
    """Findings cover at least 90% of the letters and digits in text[start:end] (all of them if it has none)."""
    wanted = [i for i in range(start, end) if text[i].isalnum()]
    if not wanted:
        return True
    found = list(found)
    hit = sum(1 for i in wanted if any(s <= i < e for _, s, e in found))
    return hit >= COVERAGE * len(wanted)


@dataclass(frozen=True, slots=True)
class TextResult:
    record: Record
    found: tuple[Finding, ...]
    hits: tuple[bool, ...]  # one per gold span, in the record's order
    ms: float

    @property
    def flagged(self) -> bool:
        return self.record.clean and bool(self.found)


def run(detect: Detector, records: list[Record]) -> list[TextResult]:
    detect(records[0].text)  # outside the clock: lazy initialisation is not per-text cost
    results = []
    for record in records:
        t0 = time.perf_counter()
        found = tuple(detect(record.text))
        ms = 1000 * (time.perf_counter() - t0)
        hits = tuple(covers(found, s.start, s.end, record.text) for s in record.spans)
        results.append(TextResult(record, found, hits, ms))
    return results


@dataclass(frozen=True, slots=True)
class Cell:
    """One detector's figures over a slice of the corpus."""

    spans: int
    found: int
    clean: int
    flagged: int
    ms_text: float
    ms_normal: float

    @classmethod
    def of(cls, results: list[TextResult]) -> Cell:
        """Figures over a non-empty slice."""
        clean = [r for r in results if r.record.clean]
        return cls(
            spans=sum(len(r.hits) for r in results),
            found=sum(sum(r.hits) for r in results),
            clean=len(clean),
            flagged=sum(r.flagged for r in clean),
            ms_text=statistics.median(r.ms for r in results),
            ms_normal=statistics.median(r.ms * NORMAL_LENGTH / len(r.record.text) for r in results),
        )

    def recall(self) -> str:
        return f"{self.found / self.spans:.3f}" if self.spans else "-"

    def flag_rate(self) -> str:
        return f"{self.flagged / self.clean:.1%}" if self.clean else "-"


def report(split: str, results: dict[str, list[TextResult]]) -> str:
    """The tables for one split, detectors side by side (every detector scored the same records)."""
    names = list(results)
    records = [r.record for r in results[names[0]]]
    spans = sum(len(r.spans) for r in records)
    clean = sum(r.clean for r in records)
    lines = [
        f"realistic corpus, split {split}: {len(records)} texts ({clean} clean, {len(records) - clean} with "
        f"personal data, {spans} spans), {len({r.genre for r in records})} genres, "
        f"{len({r.language for r in records})} languages",
        "",
        f"{'':<28}" + "".join(f"{n:>22}" for n in names),
    ]
    overall = {n: Cell.of(results[n]) for n in names}
    for label, value in (
        ("span recall", lambda c: f"{c.recall()} ({c.found}/{c.spans})"),
        ("clean texts flagged", lambda c: f"{c.flag_rate()} ({c.flagged}/{c.clean})"),
        ("median ms per text", lambda c: f"{c.ms_text:.2f}"),
        (f"median ms per {NORMAL_LENGTH} chars", lambda c: f"{c.ms_normal:.2f}"),
    ):
        lines.append(f"{label:<28}" + "".join(f"{value(overall[n]):>22}" for n in names))
    for title, key, order in (("genre", "genre", GENRES), ("language", "language", LANGUAGES)):
        lines += ["", *_breakdown(title, key, order, names, results)]
    lines += ["", f"{'recall by type':<24}{'spans':>6}" + "".join(f"{n:>22}" for n in names)]
    for kind in TYPES:
        per = {
            n: [hit for r in results[n] for s, hit in zip(r.record.spans, r.hits, strict=True) if s.type == kind]
            for n in names
        }
        if per[names[0]]:
            cells = [f"{sum(per[n]) / len(per[n]):.3f}" for n in names]
            lines.append(f"  {kind:<22}{len(per[names[0]]):>6}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(line.rstrip() for line in lines)


def _breakdown(
    title: str, key: str, order: tuple[str, ...], names: list[str], results: dict[str, list[TextResult]]
) -> list[str]:
    columns = ("recall", "flagged", "ms/text", "ms/300ch")
    head = f"{'by ' + title:<12}{'texts':>6}{'spans':>6}{'clean':>6}"
    lines = [
        f"{'':<30}" + "".join(f"   {n:<{9 * len(columns) - 3}}" for n in names),
        head + "".join("".join(f"{c:>9}" for c in columns) for _ in names),
    ]
    for value in order:
        part = {n: [r for r in results[n] if getattr(r.record, key) == value] for n in names}
        if not part[names[0]]:
            continue
        cells = {n: Cell.of(part[n]) for n in names}
        first = cells[names[0]]
        row = f"  {value:<10}{len(part[names[0]]):>6}{first.spans:>6}{first.clean:>6}"
        for c in cells.values():
            row += f"{c.recall():>9}{c.flag_rate():>9}{c.ms_text:>9.2f}{c.ms_normal:>9.2f}"
        lines.append(row)
    return lines


def misses(results: list[TextResult]) -> str:
    """What one detector missed and what it flagged, value by value: for the development split only."""
    lines = ["missed spans:"]
    for r in results:
        for span, hit in zip(r.record.spans, r.hits, strict=True):
            if not hit:
                lines.append(f"  {r.record.id:<16} {span.type:<22} {span.value!r}")
    lines.append("flagged clean texts:")
    for r in results:
        if r.flagged:
            what = ", ".join(f"{kind} {r.record.text[s:e]!r}" for kind, s, e in r.found)
            lines.append(f"  {r.record.id:<16} {what}")
    return "\n".join(lines)
