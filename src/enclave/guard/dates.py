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

# Month names and their short forms in the seven languages (Polish in the genitive, as dates write them).
MONTHS = (
    r"jan(?:uary|uar|vier|\.)?|feb(?:ruary|ruar|\.)?|f[ée]v(?:rier|\.)?|mar(?:ch|s|\.)?|m[äa]rz|apr(?:il|\.)?|"
    r"avr(?:il|\.)?|may|mai|jun(?:e|i|\.)?|juin|jul(?:y|i|\.)?|juil(?:let|\.)?|aug(?:ust|\.)?|ao[ûu]t|"
    r"sep(?:tember|tembre|t|\.)?|oct(?:ober|obre|\.)?|okt(?:ober|\.)?|nov(?:ember|embre|\.)?|"
    r"de[cz](?:ember|\.)?|d[ée]cembre|"
    r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|"
    r"gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|"
    r"januari|februari|maart|mei|juni|juli|augustus|oktober|"
    r"stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|wrze[sś]nia|pa[zź]dziernika|listopada|grudnia"
)
# Full dates (2025-06-12, 12.06.2025, 12/06/25, 12 June 2025, 5 de diciembre de 1967, June 12, 2025) and, where
# a cue stands right before, a day and month alone (09/06, 10.06, 3 May).
_DATE = re.compile(
    r"(?<![\w./:-])(?:(?P<full>\d{4}-\d{2}-\d{2}|\d{1,2}([./-])\d{1,2}\2(?:\d{4}|\d{2})"
    rf"|\d{{1,2}}\.?\s(?:de\s)?(?:{MONTHS})\s(?:de\s)?\d{{4}}|(?:{MONTHS})\s\d{{1,2}},?\s\d{{4}})"
    rf"|(?P<short>\d{{1,2}}[./]\d{{1,2}}|\d{{1,2}}\.?\s(?:de\s)?(?:{MONTHS})))"
    r"(?=T\d|(?![\w/-]|[.:]\d))",
    re.IGNORECASE,
)
_BIRTH = re.compile(
    r"(?i:(?<![^\W\d_])(?:born|date of birth|birth ?date|d\.?o\.?b|birthday|geb|geboren|geburtsdatum|geburtstag"
    r"|né|née|date de naissance|ddn|nacid[oa]|fecha de nacimiento|nacimiento|nat[oa]|data di nascita|nascita"
    r"|geboortedatum|ur|urodzon[ya]|data urodzenia)(?![^\W\d_]))"
    r"[^\d\n]{0,24}$"
)
# Words of a person's health right before a date: the stay, the operation, the event. Nouns that also name
# software's events ("operation", "intervention", "release") are left out: a participle says someone was treated.
_HEALTH = re.compile(
    r"(?i:(?<![^\W\d_])(?:admitted|admission|discharged?|surgery|operated|colonoscopy|endoscopy|biopsy|diagnosed"
    r"|stroke|fracture|sick leave|sick note|died|deceased"
    r"|off sick|off ill|sick since|ill since|off work sick|unfit for work|medical leave|sickness absence|fit note"
    r"|signed off (?:sick|ill|work)|signed off(?= (?:from|until|till|for)\b)"
    r"|aufnahme|aufgenommen|entlassung|entlassen|aufenthalt|operiert|eingriff|unfall|sturz|krankgeschrieben"
    r"|krankmeldung|krankschreibung|krank ?gemeldet|arbeitsunf[äa]hig\w*|verstorben"
    r"|hospitalis[ée]e?|hospitalisation|s[ée]jour|entr[ée]e(?=\")|sortie(?=\")|admise?|op[ée]r[ée]e?|chute"
    r"|d[ée]c[ée]d[ée]e?|arr[êe]t (?:maladie|de travail)|cong[ée] (?:de )?maladie|malade"
    r"|ingreso|ingresad[oa]|alta(?=\s*:)|(?<=de )alta|(?<=el )alta|(?<=del )alta|intervenid[oa]|operad[oa]"
    r"|cirug[íi]a|ca[íi]da|fallecid[oa]|baja (?:m[ée]dica|laboral|por enfermedad)|incapacidad temporal"
    r"|ricovero|ricoverat[oa]|dimission[ei]|dimess[oa]|operat[oa]|caduta|decesso|referto|malattia"
    r"|opname|opgenomen|ontslag|ontslagen|geopereerd|ingreep|overleden|ziekmelding|ziek ?gemeld|ziek sinds"
    r"|ziekteverlof"
    r"|hospitalizacja|przyj[ęe]t[ya]|przyj[ęe]cie|wypis|wypisan[ya]|operowan[ya]|zabieg|udar\w*"
    r"|upadek|zgon|zwolnieni\w* lekarski\w*|zwolnieni\w* chorobow\w*|(?<=na )L4|niezdoln\w* do pracy)(?![^\W\d_]))"
    r"[^\n]{0,40}$"
)
# Between the two dates of one stay: "03.03.2025 – 14.03.2025", "du 02/04/2025 au 06/04/2025", "t/m".
_RANGE = re.compile(r"\s*(?:[-–—]|to|until|bis|au|al|hasta|tot|t/m|do|→)\s*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]\s|\n")
# What joins two writings of one birth date: "on one form and ... on the other".
_OTHER = re.compile(r"(?i)\b(?:and|or|und|oder|et|ou|y|o|e|en|of|i|lub|albo)\b")


class PersonalDates:
    """DATE_OF_BIRTH and DATE findings for the dates a text ties to a person (see the module's docstring)."""

    def __init__(self, mode: str) -> None:
        self._health = mode != "birth"

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        previous: tuple[str, int, int] | None = None
        for m in _DATE.finditer(text):
            start, end = m.start(), m.end()
            kind = self._kind(text, m, previous)
            if kind is not None:
                previous = (kind, start, end)
                yield previous

    def _kind(self, text: str, m: re.Match[str], previous: tuple[str, int, int] | None) -> str | None:
        start = m.start()
        before = text[max(0, start - 48) : start]
        if _BIRTH.search(before[-32:]):
            return "DATE_OF_BIRTH"
        # Its words in the date's own sentence: "Operada 10/06. Release on 2025-08-14" dates no operation.
        sentence = before[max((before.rfind(end) for end in (". ", "! ", "? ", "\n")), default=-1) + 1 :]
        health = self._health and _HEALTH.search(sentence) is not None
        if not m["full"]:
            return "DATE" if health else None  # a day and month alone only right after its cue ("operata 09/06")
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
