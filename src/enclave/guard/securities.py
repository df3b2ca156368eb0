"""Names of listed securities, as exchanges and fund platforms write them: "ISHS VII/SHS CL-DIST GBP",
"MORGAN STANL DS REP 1/1000 SRS E PRF", "Invesco S&P SmallCap Materials ETF".

Such a name is an issuer's name cut short and followed by the instrument's terms (share class, series,
preference, currency). No word list knows the issuer ("BLCKROCK", "ISHS"), but the terms are a closed vocabulary:
one of them marks the run of upper-case words, numbers and share-class codes around it as one organisation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from enclave.guard.lexicon import Lexicon

# Terms that only an instrument's listing uses (upper case, as written there): shares, funds, preference shares
# and their series, voting and paid-up status, depositary receipts, notes, accumulation, the index a fund
# tracks.
_TERMS = frozenset(
    {
        "SHS",
        "ETF",
        "ETFS",
        "UCITS",
        "PRF",
        "PFD",
        "PREF",
        "SRS",
        "CUM",
        "REDM",
        "VTG",
        "FPD",
        "NPV",
        "GDR",
        "ADR",
        "NTS",
        "ACCUMG",
        "HGD",
        "FDS",
        "HLDGS",
        "INVST",
        "RLTY",
        "MSCI",
    }
)
_TERM = re.compile(rf"(?<![A-Za-z])(?:{'|'.join(sorted(_TERMS))})(?![A-Za-z])")
# A word of the name: upper-case letters and digits, share classes and currencies after a slash ("AMIL/SHS",
# "CL-DIST", "1/1000", "6.25%", "(ACC)"), or a capitalised or brand word in a fund's name ("Nikkei", "iShares").
_PIECE = re.compile(r"\(?(?:[A-Z0-9][\w.&%/-]*|[a-z]+[A-Z][\w.&%/-]*|/[A-Z][\w./-]*)\)?(?:/[A-Z]{3})?")
_WORD = re.compile(r"\S+")
_PARTS = re.compile(r"[/-]")
# Where a name cannot continue: the end of a clause, or a line break.
_CLAUSE_END = frozenset(',;:!?"“”')


class SecurityNames:
    """ORGANIZATION spans: a run of listing words around a term only a security's listing uses."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._words = lexicon.words  # ordinary English, in lower case

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        if _TERM.search(text) is None:
            return  # most texts: no listing's term, nothing to read word by word
        for line in re.finditer(r"[^\n]+", text):
            words = [(m.start() + line.start(), m.group()) for m in _WORD.finditer(line.group())]
            yield from self._runs(words)

    def _runs(self, words: list[tuple[int, str]]) -> Iterator[tuple[str, int, int]]:
        k = 0
        while k < len(words):
            if not any(part in _TERMS for part in _PARTS.split(words[k][1].strip(".,;:()"))):
                k += 1
                continue
            lo = k
            while lo > 0 and SecurityNames._joins(words[lo - 1][1]) and not self._opens(words, lo - 1):
                lo -= 1
            hi = k
            while hi + 1 < len(words) and SecurityNames._joins(words[hi][1]) and SecurityNames._piece(words[hi + 1][1]):
                hi += 1
            if hi > lo:  # the term alone ("an ETF") names nothing
                start, last = words[lo][0], words[hi]
                yield "ORGANIZATION", start, last[0] + len(last[1].rstrip('.,;:!?"”'))
            k = hi + 1

    def _opens(self, words: list[tuple[int, str]], k: int) -> bool:
        """An English word in mixed case opening a sentence or line ("Use ETF shares", "The BET CAP ..."): not the
        issuer's name."""
        word = words[k][1]
        return not word.isupper() and (k == 0 or words[k - 1][1][-1] in ".!?") and word.lower() in self._words

    @staticmethod
    def _joins(word: str) -> bool:
        """A word of the name that does not end its clause."""
        return SecurityNames._piece(word) and word[-1] not in _CLAUSE_END

    @staticmethod
    def _piece(word: str) -> bool:
        return _PIECE.fullmatch(word.rstrip('.,;:!?"”')) is not None
