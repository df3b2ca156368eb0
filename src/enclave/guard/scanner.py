"""The guard: every recognizer over every message, overlaps resolved, the result summarised as a report."""

from __future__ import annotations

import re

from enclave.config import DataClass, GuardConfig
from enclave.engines.base import GenerationRequest
from enclave.errors import GuardLimitExceeded
from enclave.guard import entities
from enclave.guard.actions import ActionTable, classes_of
from enclave.guard.context import IDENTIFYING, near_person
from enclave.guard.dates import PersonalDates
from enclave.guard.fields import FieldValues
from enclave.guard.findings import DENY_TERM, Finding, GuardReport
from enclave.guard.pool import ScanPool
from enclave.guard.recognizers import Custom, FullDate, Recognizer, builtin
from enclave.guard.texts import texts_of


class Guard:
    """Safe to share between requests: per-request state lives in the report it returns. Long scans go to worker
    processes (``scan_async``), which ``close`` stops."""

    def __init__(self, config: GuardConfig) -> None:
        self.config = config
        self._pool = ScanPool(config)  # no process starts before the first long scan
        self._recognizers: list[Recognizer] = builtin()
        self._recognizers.append(PersonalDates(config.dates))
        if config.dates == "all":
            self._recognizers.append(FullDate())
        self._near_person: list[Recognizer] = near_person(config.dates)
        self._recognizers.append(FieldValues(entities.enabled_types(config.entities)))
        if (backend := entities.load(config.entities)) is not None:
            self._recognizers.append(backend)
        self.classes: dict[str, DataClass] = classes_of(config)
        self.actions = ActionTable(config)
        for custom in config.custom_patterns:
            self._recognizers.append(Custom(custom.name, re.compile(custom.pattern)))
        if config.deny_terms:
            self._recognizers.append(Custom.terms(DENY_TERM, config.deny_terms))

    def find(self, text: str, message: int = 0) -> list[Finding]:
        # Text pasted from JSON or logs carries line breaks as the two characters "\\n": read them as the break
        # they are, so "\\nJane" is not one word (same length, so every position still points into the original).
        text = text.replace("\\n", " \n")
        candidates = [
            Finding(kind, start, end, message)
            for recognizer in self._recognizers
            for kind, start, end in recognizer.find(text)
        ]
        # What is personal only beside a person is looked for where the first pass found one (guard.context).
        if any(f.entity_type in IDENTIFYING for f in candidates):
            candidates += [
                Finding(kind, start, end, message)
                for recognizer in self._near_person
                for kind, start, end in recognizer.find(text)
            ]
        # Where two recognizers claim overlapping text, the longer claim wins (a card inside a longer token
        # is part of that token, not a second finding); what only the shorter claimed stays found, as the
        # shorter's type ("Keijo Salmela" of "Keijo Salmela of NEXT FUNDS", when a fund's name is the longer).
        candidates.sort(key=lambda f: (f.start - f.end, f.start))
        # Which characters a kept finding covers: each candidate reads only its own stretch of it, so resolving
        # overlaps costs the candidates' total length, however many findings a long text has.
        taken = bytearray(len(text))
        kept: list[Finding] = []
        for finding in candidates:
            for start, end in self._uncovered(text, finding.start, finding.end, taken):
                taken[start:end] = b"\x01" * (end - start)
                kept.append(Finding(finding.entity_type, start, end, message))
        kept.sort(key=lambda f: f.start)
        return kept

    @staticmethod
    def _uncovered(text: str, start: int, end: int, taken: bytearray) -> list[tuple[int, int]]:
        """The parts of text[start:end] that no kept finding covers, trimmed to letters and digits at both ends;
        the whole of it, as found, when it overlaps none."""
        if taken.find(1, start, end) < 0:
            return [(start, end)]
        out, cursor = [], start
        while cursor < end:
            stop = taken.find(1, cursor, end)
            stop = end if stop < 0 else stop
            lo, hi = cursor, stop
            while lo < hi and not text[lo].isalnum():
                lo += 1
            while hi > lo and not text[hi - 1].isalnum():
                hi -= 1
            words = text[lo:hi].rsplit(" ", 1)
            if len(words) == 2 and words[1].isalpha() and words[1].islower():
                hi -= len(words[1]) + 1  # "Keijo Salmela of": the joining word belonged to the longer claim
            if hi - lo >= 2:
                out.append((lo, hi))
            free = taken.find(0, stop, end)
            cursor = end if free < 0 else free
        return out

    def scan(self, texts: list[str]) -> GuardReport:
        """The findings in texts of one request, or GuardLimitExceeded when they hold more than guard.max_chars
        characters together (the work one request may ask of the guard)."""
        self._check(sum(map(len, texts)))
        findings = [f for i, text in enumerate(texts) for f in self.find(text, i)]
        return GuardReport.of(findings, self.classes)

    def _check(self, size: int) -> None:
        if size > self.config.max_chars:
            raise GuardLimitExceeded(
                f"The request holds {size} characters of text; the privacy guard reads at "
                f"most {self.config.max_chars} (guard.max_chars)."
            )

    async def scan_async(self, texts: list[str]) -> GuardReport:
        """``scan``, without holding up the event loop: texts of more than guard.inline_chars characters in all
        are read by one of the guard's worker processes (``enclave.guard.pool``) while the loop serves every
        other request, shorter ones right here (the trip to a worker would cost more than their scan).
        GuardFailed if a worker could not read them."""
        if (size := sum(map(len, texts))) <= self.config.inline_chars:
            return self.scan(texts)
        self._check(size)
        return GuardReport.of(await self._pool.scan(texts), self.classes)

    def inspect(self, request: GenerationRequest) -> GuardReport:
        """Every text the request carries (``guard.texts``): each message's content (system, user, assistant
        and tool results alike), tool-call arguments, tool definitions, the response schema, passthrough fields
        and stop sequences; a finding in any of them counts as one in a user message would."""
        return self.scan(texts_of(request))

    async def inspect_async(self, request: GenerationRequest) -> GuardReport:
        """``inspect``, off the event loop for long texts (see ``scan_async``)."""
        return await self.scan_async(texts_of(request))

    async def close(self) -> None:
        """Stop the worker processes, if any started."""
        await self._pool.close()
