r"""National identifiers of EU countries and the UK, found as people write them and validated as they are issued.

Each identifier has its own type (``DE_TAX_ID``, ``FR_NIR``, ...), so its data class, and later its action, can
be set on its own. Check digits, embedded birth dates and numbering rules come from python-stdnum (the UK's
National Insurance number, which has no check digit, from HMRC's prefix rules).

Two kinds of format:

- **Distinctive**: letters where the format puts them, or a long check (``RSSMRA85T10A562S``, ``X-2482300-W``,
  ``54362315-K``, ``2 95 10 99 126 111 93``, ``131052-308T``, ``AB 12 34 56 C``, ``85.07.30-033.28``): found
  wherever they stand.
- **Digits only, with a short check** (one number in eleven passes the Dutch BSN's, the Portuguese NIF's or the UK
  NHS number's; the Danish CPR is a date and four digits; the German Steuer-ID, the PESEL, the Swedish
  personnummer, the Austrian SV-Nummer and a bare Belgian national number are little better): random numbers
  pass too often, so these are found only in a text that names the identifier ("BSN", "Steuer-ID", "PESEL",
  "CPR-Nr.", "NHS", ...: anywhere, as a table's header names its column), or within a few words of it where the
  name is an acronym with other meanings ("CPR", "PNR", "NN") or a general one ("national ID", "ID number").

Digits may be grouped by spaces, dots, dashes or slashes (``36 574 261 809``, ``1112.22.333``). A run of groups is
read as every sequence of whole groups between spaces, so a number written beside another ("BSN 111222333 123")
is still read alone; no sequence is read past the longest identifier's length, so a text of digits costs time
linear in its length. The words are looked for once per text, and only when a number of the right length is there.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stdnum.at import vnr
from stdnum.be import nn
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.ie import pps
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.pt import cc, nif
from stdnum.se import personnummer

# HMRC, NIM39110: neither letter of the prefix is D, F, I, Q, U or V; the second is not O; these pairs are not issued.
_NINO_UNUSED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"


def _nino(value: str) -> bool:
    prefix = value[:2]
    return prefix[0] in _NINO_FIRST and prefix[1] in _NINO_SECOND and prefix not in _NINO_UNUSED


def _portuguese_nif(value: str) -> bool:
    # NIFs from 5 on belong to companies and public bodies (a NIPC), which are not personal data; 45 to non-residents.
    return (value[0] in "123" or value.startswith("45")) and nif.is_valid(value)


@dataclass(frozen=True, slots=True)
class IdFormat:
    entity_type: str
    valid: Callable[[str], bool]  # on the value without its separators, in upper case
    cue: str | None = None  # whose words (in _CUES) must name it; None where the format alone is distinctive
    separators: str = " ./-"  # what grouping may be left out; a Finnish HETU's "-" or "+" is its century

    def check(self, value: str) -> bool:
        return self.valid(value.translate(str.maketrans("", "", self.separators)).upper())


# Words naming each identifier, lower case, each read from the start of a word ("Steuer-ID", "Steueridentifikations-
# nummer"): first those that name it anywhere in the text (as a table's header names its column), then those
# that name it only within a few words, as acronyms with other meanings do ("CPR" is also resuscitation, "PNR" a
# booking, "NN" a neural network); "any" names every identifier ("ID number 123456782"). A word's end, \b here,
# is also where "_" follows: "nhs_number" is a column named for the NHS number.
_GENERIC = (
    r"national (?:id|identity|identification|number)|id(?:entity|entification)? ?(?:no|nr|number|#)"
    r"|personal (?:id|identity|number)|social security|tax (?:id|number)|tin\b"
)
_CUES: dict[str, tuple[str, str]] = {
    "de": (r"steuer|identifikationsnummer|tax identification", r"id-?nr\b"),
    "nl": (r"bsn\b|burgerservicenummer|sofi-?nummer|citizen service number", ""),
    "pt": (r"nif\b|contribuinte|n[úu]mero fiscal|identifica[çc][ãa]o fiscal", ""),
    "pl": (r"pesel", ""),
    "be": (r"rijksregister|registre national|num[ée]ro national|nationaal nummer|niss\b|insz\b", r"rrn\b|nn\b"),
    "se": (r"personnummer|samordningsnummer|personal identity number", r"pnr\b"),
    "dk": (r"cpr-?n(?:umme)?r|personnummer", r"cpr\b"),
    "at": (r"sozialversicherung|versicherungsnummer|sv-?n(?:umme)?r|vsnr\b|svnr\b|social insurance", ""),
    "uk": (r"national insurance|nino\b", r"ni (?:no|number)\b"),
    "ie": (r"ppsn\b|personal public service", r"pps\b"),
    "nhs": (r"nhs\b", ""),
    "any": ("", _GENERIC),
}


def _words(pattern: str) -> re.Pattern[str] | None:
    return re.compile(pattern.replace(r"\b", r"(?![^\W_])")) if pattern else None


_ANYWHERE = {key: p for key, (anywhere, _) in _CUES.items() if (p := _words(anywhere)) is not None}
_NEARBY = {key: p for key, (_, nearby) in _CUES.items() if (p := _words(nearby)) is not None}
# One alternation without named groups keeps re's quick scan for first letters: a few microseconds a prompt. The
# words naming an identifier anywhere come first, so "cpr-nr" is read whole before "cpr" alone could be.
_ANY_CUE = re.compile("|".join(p.pattern for p in (*_ANYWHERE.values(), *_NEARBY.values())))
_ANY_CUE_ANY_CASE = re.compile(_ANY_CUE.pattern, re.IGNORECASE)  # for the rare text that lower() makes longer
_CUE_BEFORE, _CUE_AFTER = 48, 24  # characters: "national identification number (NIN): ", "(ID no.)"


class _Cues:
    """Where words naming identifiers stand in one text: found in one pass, on the first question."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._index: tuple[set[str], dict[str, list[int]]] | None = None

    def name(self, key: str, start: int, end: int) -> bool:
        """Whether the text names identifier ``key`` anywhere, or within a few words of start..end."""
        if self._index is None:
            self._index = self._read()
        anywhere, nearby = self._index
        if key in anywhere:
            return True
        for found in (nearby.get(key, []), nearby.get("any", [])):
            i = bisect_left(found, start - _CUE_BEFORE)
            if i < len(found) and found[i] <= end + _CUE_AFTER:
                return True
        return False

    def _read(self) -> tuple[set[str], dict[str, list[int]]]:
        text = self._text
        lower = text.lower()
        matches = _ANY_CUE.finditer(lower) if len(lower) == len(text) else _ANY_CUE_ANY_CASE.finditer(text)
        anywhere: set[str] = set()
        nearby: dict[str, list[int]] = {}
        for m in matches:
            if m.start() and text[m.start() - 1].isalpha():
                continue  # inside a word: "aNNa", "aufsTEUERn"
            word = m.group().lower()
            anywhere.update(key for key, words in _ANYWHERE.items() if words.fullmatch(word))
            for key, words in _NEARBY.items():
                if words.fullmatch(word):
                    nearby.setdefault(key, []).append(m.start())
        return anywhere, nearby


# Distinctive formats: one alternative each, named for the format; at most one can match at a position.
_DISTINCTIVE = {
    "ES_DNI": IdFormat("ES_DNI", dni.is_valid),
    "ES_NIE": IdFormat("ES_NIE", nie.is_valid),
    "IT_FISCAL_CODE": IdFormat("IT_FISCAL_CODE", codicefiscale.is_valid),
    "FR_NIR": IdFormat("FR_NIR", nir.is_valid),
    "FI_HETU": IdFormat("FI_HETU", hetu.is_valid, separators=""),
    "PT_CC": IdFormat("PT_CC", cc.is_valid),
    "BE_NATIONAL_NUMBER": IdFormat("BE_NATIONAL_NUMBER", nn.is_valid),
    "UK_NINO": IdFormat("UK_NINO", _nino),
    "UK_NINO_BARE": IdFormat("UK_NINO", _nino, "uk"),  # without its final letter: only where named
    "IE_PPS": IdFormat("IE_PPS", pps.is_valid, "ie"),
}
_OMOCODE = "[0-9LMNPQRSTUV]"  # a codice fiscale's digits, replaced by letters where two people would share one
# Letters in either case, as forms and people type them; a NINO's only in capitals ("at 12 34 56 a" is prose).
_DISTINCTIVE_PATTERN = re.compile(
    r"(?<![\w.-])(?:"
    r"(?P<ES_DNI>\d{2}\.?\d{3}\.?\d{3}[ -]?(?i:[A-Z]))"
    r"|(?P<ES_NIE>(?i:[XYZ][ -]?\d{7}[ -]?[A-Z]))"
    rf"|(?P<IT_FISCAL_CODE>(?i:[A-Z]{{3}} ?[A-Z]{{3}} ?{_OMOCODE}{{2}}[A-EHLMPRST]{_OMOCODE}{{2}}"
    rf" ?[A-Z]{_OMOCODE}{{3}}[A-Z]))"
    r"|(?P<FR_NIR>[1-478][ .]?\d{2}[ .]?\d{2}[ .]?(?:\d{2}|2[AB])[ .]?\d{3}[ .]?\d{3}(?:[ .]?|[ .]?-[ .]?)\d{2})"
    r"|(?P<FI_HETU>\d{6}[-+A-FU-Y]\d{3}(?i:[0-9A-Y]))"
    r"|(?P<PT_CC>\d{8}[ -]?\d[ -]?[A-Z]{2}\d)"
    r"|(?P<BE_NATIONAL_NUMBER>\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2})"
    r"|(?P<UK_NINO>[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D])"
    r"|(?P<UK_NINO_BARE>[A-Z]{2} ?\d{2} ?\d{2} ?\d{2})"
    r"|(?P<IE_PPS>\d{7}(?i:[A-W][ABHWTX]?))"
    r")(?![\w-])"
)

# Digits only, by how many digits they have; every one needs its words near.
_SE = IdFormat("SE_PERSONNUMMER", personnummer.is_valid, "se")
_BY_LENGTH: dict[int, tuple[IdFormat, ...]] = {
    9: (IdFormat("NL_BSN", bsn.is_valid, "nl"), IdFormat("PT_NIF", _portuguese_nif, "pt")),
    10: (
        IdFormat("UK_NHS_NUMBER", nhs.is_valid, "nhs"),
        _SE,
        IdFormat("DK_CPR", cpr.is_valid, "dk"),
        IdFormat("AT_SV_NUMBER", vnr.is_valid, "at"),
    ),
    11: (
        IdFormat("DE_TAX_ID", idnr.is_valid, "de"),
        IdFormat("PL_PESEL", pesel.is_valid, "pl"),
        IdFormat("BE_NATIONAL_NUMBER", nn.is_valid, "be"),
    ),
    12: (_SE,),  # with the century: 19811218-9876
}
_SHORTEST, _LONGEST = min(_BY_LENGTH), max(_BY_LENGTH)
_GROUP = re.compile(r"\d++")
_RUN = re.compile(r"(?<![\w+])\d++(?:[ ./-]\d++)*+")


class NationalIds:
    """Finds every format above; yields (entity_type, start, end)."""

    # Six digits in groups, or a codice fiscale's "18D96": every identifier here has one or the other.
    _enough_digits = re.compile(r"\d(?:[ ./-]?\d){5}|\d\d[A-Za-z]\d\d")

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        if not self._enough_digits.search(text):
            return
        cues = _Cues(text)
        for m in _DISTINCTIVE_PATTERN.finditer(text):
            assert m.lastgroup is not None
            kind = _DISTINCTIVE[m.lastgroup]
            if (kind.cue is None or cues.name(kind.cue, m.start(), m.end())) and kind.check(m.group()):
                yield kind.entity_type, m.start(), m.end()
        for run in _RUN.finditer(text):
            end = run.end()
            if end - run.start() >= _SHORTEST and not (end < len(text) and text[end].isalpha()):
                yield from self._digit_ids(text, run, cues)  # not glued to a word ("2024abc" is a code)

    @staticmethod
    def _digit_ids(text: str, run: re.Match[str], cues: _Cues) -> Iterator[tuple[str, int, int]]:
        """Each sequence of whole groups in a run, beginning and ending where a space parts groups (or at the run's
        ends), with as many digits as an identifier has, named nearby and valid."""
        groups = [g.span() for g in _GROUP.finditer(text, run.start(), run.end())]
        for i, (start, _) in enumerate(groups):
            if i and text[start - 1] != " ":
                continue
            digits = 0
            for j in range(i, len(groups)):
                digits += groups[j][1] - groups[j][0]
                if digits > _LONGEST:
                    break
                stop = groups[j][1]
                if j + 1 < len(groups) and text[stop] != " ":
                    continue
                for kind in _BY_LENGTH.get(digits, ()):
                    assert kind.cue is not None
                    if cues.name(kind.cue, start, stop) and kind.check(text[start:stop]):
                        yield kind.entity_type, start, stop
                        break
