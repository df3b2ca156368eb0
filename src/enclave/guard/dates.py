"""Dates that are personal data: a birth date, and a date tied to a person's health (admission, discharge, an
operation, a stroke), in the guard's seven languages.

A date alone is not personal data: a release, a deadline, a log's timestamp, a contract's date say nothing of
anyone. A birth date is, and so is the date of a person's operation or hospital stay. What makes it one is
written right before it: "DOB", "geb.", "née le", "nacido el", "nato a Roma il", "ur."; "Admitted:",
"Aufnahme am", "Séjour du", "intervenida", "operata", "po udarze"; sick leave: "off sick since", "Krankmeldung
vom", "de baja médica desde", "en arrêt maladie depuis", "in malattia dal", "ziek gemeld op", "na zwolnieniu
lekarskim od". A date in the same sentence as a birth date is that person's too ("geb. 22.09.1961) mit seit
01.06.2025 bestehendem Exanthem"), and so is the second date of a stay ("03.03.2025 – 14.03.2025").

``guard.dates`` chooses: ``personal`` (the default) reports both kinds; ``birth`` birth dates only; ``all``
every full calendar date besides (the scanner adds ``recognizers.FullDate``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from enclave.guard.date_cues import (
    BIRTH,
    BIRTH_AFTER,
    CARE,
    CARE_EVENT,
    CHECK_EVENT,
    HEALTH,
    HEALTH_AFTER,
    HEALTH_LABEL,
)
from enclave.guard.date_forms import DATE

# Between the two dates of one stay: "03.03.2025 – 14.03.2025", "du 02/04/2025 au 06/04/2025", "t/m".
_RANGE = re.compile(r"\s*(?:[-–—]|to|until|bis|au|al|hasta|tot|t/m|do|→)\s*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]\s|\n")
# What joins two writings of one birth date: "on one form and ... on the other".
_OTHER = re.compile(r"(?i)\b(?:and|or|und|oder|et|ou|y|o|e|en|of|i|lub|albo)\b")


class PersonalDates:
    """DATE_OF_BIRTH and DATE findings for the dates a text ties to a person (see the module's docstring).

    ``near_person``: also the dates that words of someone's care tie to them ("MRI on 3 June 2025", "Consulta
    del 14/05/2025"), for a text that already names a person (enclave.guard.context runs it only there)."""

    def __init__(self, mode: str, near_person: bool = False) -> None:
        self._health = mode != "birth"
        self._near_person = near_person and self._health

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        previous: tuple[str, int, int] | None = None
        care: list[bool] = []  # whether the text is about someone's care: asked once, at the first general word
        for m in DATE.finditer(text):
            kind = self._kind(text, m, previous, care)
            if kind is not None:
                previous = (kind, m.start(), m.end())
                yield previous

    def _kind(self, text: str, m: re.Match[str], previous: tuple[str, int, int] | None, care: list[bool]) -> str | None:
        start, end = m.start(), m.end()
        before = text[max(0, start - 48) : start]
        if BIRTH.search(before[-32:]) or BIRTH_AFTER.match(text, end):
            return "DATE_OF_BIRTH"
        # Its words in the date's own sentence: "Operada 10/06. Release on 2025-08-14" dates no operation.
        sentence = before[max((before.rfind(stop) for stop in (". ", "! ", "? ", "\n")), default=-1) + 1 :]
        health = self._health and (
            HEALTH.search(sentence) is not None
            or HEALTH_LABEL.search(sentence) is not None
            or self._care(sentence, text, care)
        )
        if not m["full"]:
            return "DATE" if health else None  # a day and month alone only right after its cue ("operata 09/06")
        if not health and self._health:
            after = _SENTENCE_END.split(text[end : end + 48], maxsplit=1)[0]
            health = HEALTH_AFTER.match(after) is not None or self._care(after, text, care)
        if previous is not None and start - previous[2] <= 48:
            between = text[previous[2] : start]
            if _RANGE.fullmatch(between):
                return previous[0]  # the end of a stay: "03.03.2025 – 14.03.2025"
            same_sentence = not any(c.isdigit() for c in between) and not _SENTENCE_END.search(between)
            if previous[0] == "DATE_OF_BIRTH" and same_sentence:
                if _OTHER.search(between):
                    return "DATE_OF_BIRTH"  # "DOB is 07/04/1989 on one form and 04/07/1989 on the other"
                if self._health:
                    return "DATE"  # "geb. 22.09.1961) mit seit 01.06.2025 bestehendem Exanthem"
        return "DATE" if health else None

    def _care(self, words: str, text: str, care: list[bool]) -> bool:
        """Words of someone's care in a text that names a person; the general ones only in a text about care."""
        if not self._near_person:
            return False
        if CARE_EVENT.search(words):
            return True
        if CHECK_EVENT.search(words) is None:
            return False
        if not care:
            care.append(CARE.search(text) is not None)
        return care[0]
