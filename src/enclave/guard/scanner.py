"""The guard: every recognizer over every message, overlaps resolved, the result summarised as a report."""

from __future__ import annotations

import re
from bisect import bisect_left

from enclave.config import DataClass, GuardConfig
from enclave.engines.base import GenerationRequest
from enclave.guard import entities
from enclave.guard.findings import DEFAULT_CLASSES, Finding, GuardReport
from enclave.guard.recognizers import Custom, FullDate, Recognizer, builtin

DENY_TERM = "DENY_TERM"


class Guard:
    """Stateless after construction and safe to share: per-request state lives in the report it returns."""

    def __init__(self, config: GuardConfig) -> None:
        self.config = config
        self._recognizers: list[Recognizer] = builtin()
        if config.dates == "all":
            self._recognizers.append(FullDate())
        if (backend := entities.load(config.entities)) is not None:
            self._recognizers.append(backend)
        self.classes: dict[str, DataClass] = {**DEFAULT_CLASSES, **config.entity_classes}
        for custom in config.custom_patterns:
            self._recognizers.append(Custom(custom.name, re.compile(custom.pattern)))
            self.classes[custom.name] = custom.data_class
        if config.deny_terms:
            self._recognizers.append(Custom.terms(DENY_TERM, config.deny_terms))
            self.classes[DENY_TERM] = config.deny_terms_class

    def find(self, text: str, message: int = 0) -> list[Finding]:
        # Text pasted from JSON or logs carries line breaks as the two characters "\\n": read them as the break
        # they are, so "\\nJane" is not one word (same length, so every position still points into the original).
        text = text.replace("\\n", " \n")
        candidates = [Finding(kind, start, end, message)
                      for recognizer in self._recognizers for kind, start, end in recognizer.find(text)]
        # Where two recognizers claim overlapping text, the longer claim wins (a card inside a longer token
        # is part of that token, not a second finding); what only the shorter claimed stays found, as the
        # shorter's type ("Keijo Salmela" of "Keijo Salmela of NEXT FUNDS", when a fund's name is the longer).
        candidates.sort(key=lambda f: (f.start - f.end, f.start))
        kept: list[Finding] = []  # disjoint, by start
        starts: list[int] = []
        for finding in candidates:
            for piece in self._uncovered(text, finding, kept, starts):
                at = bisect_left(starts, piece.start)
                kept.insert(at, piece)
                starts.insert(at, piece.start)
        return kept

    @staticmethod
    def _uncovered(text: str, finding: Finding, kept: list[Finding], starts: list[int]) -> list[Finding]:
        """The parts of a finding that no kept finding covers, trimmed to letters and digits at both ends."""
        at = bisect_left(starts, finding.start)
        if at > 0 and kept[at - 1].overlaps(finding):
            at -= 1
        pieces, cursor = [], finding.start
        while at < len(kept) and kept[at].start < finding.end:
            pieces.append((cursor, kept[at].start))
            cursor = max(cursor, kept[at].end)
            at += 1
        if not pieces:
            return [finding]  # overlaps nothing
        pieces.append((cursor, finding.end))
        out = []
        for start, end in pieces:
            while start < end and not text[start].isalnum():
                start += 1
            while end > start and not text[end - 1].isalnum():
                end -= 1
            words = text[start:end].rsplit(" ", 1)
            if len(words) == 2 and words[1].isalpha() and words[1].islower():
                end -= len(words[1]) + 1  # "Keijo Salmela of": the joining word belonged to the longer claim
            if end - start >= 2:
                out.append(Finding(finding.entity_type, start, end, finding.message))
        return out

    def scan(self, texts: list[str]) -> GuardReport:
        findings = [f for i, text in enumerate(texts) for f in self.find(text, i)]
        return GuardReport.of(findings, self.classes)

    def inspect(self, request: GenerationRequest) -> GuardReport:
        """Every message's content: system, user, assistant and tool alike."""
        texts = [m.content for m in request.messages] if request.messages is not None else [request.prompt or ""]
        return self.scan(texts)
