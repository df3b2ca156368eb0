"""The guard: every recognizer over every message, overlaps resolved, the result summarised as a report."""

from __future__ import annotations

import re
from bisect import bisect_left

from enclave.config import DataClass, GuardConfig
from enclave.engines.base import GenerationRequest
from enclave.guard import entities
from enclave.guard.findings import DEFAULT_CLASSES, Finding, GuardReport
from enclave.guard.recognizers import Custom, Recognizer, builtin

DENY_TERM = "DENY_TERM"


class Guard:
    """Stateless after construction and safe to share: per-request state lives in the report it returns."""

    def __init__(self, config: GuardConfig) -> None:
        self.config = config
        self._recognizers: list[Recognizer] = builtin()
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
        # is part of that token, not a second finding).
        candidates.sort(key=lambda f: (f.start - f.end, f.start))
        kept: list[Finding] = []  # disjoint, by start: a candidate can only overlap its neighbours there
        starts: list[int] = []
        for finding in candidates:
            at = bisect_left(starts, finding.start)
            if (at > 0 and kept[at - 1].overlaps(finding)) or (at < len(kept) and kept[at].overlaps(finding)):
                continue
            kept.insert(at, finding)
            starts.insert(at, finding.start)
        return kept

    def scan(self, texts: list[str]) -> GuardReport:
        findings = [f for i, text in enumerate(texts) for f in self.find(text, i)]
        return GuardReport.of(findings, self.classes)

    def inspect(self, request: GenerationRequest) -> GuardReport:
        """Every message's content: system, user, assistant and tool alike."""
        texts = [m.content for m in request.messages] if request.messages is not None else [request.prompt or ""]
        return self.scan(texts)
