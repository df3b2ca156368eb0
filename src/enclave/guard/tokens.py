"""Words for the built-in tagger: where each is, how it is written, and whether it opens a sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass

from enclave.guard.lexicon import fold
from enclave.guard.name_words import LEGAL_SUFFIXES, TITLES

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# A lower-case letter before a capital inside a word, or a capital run before a capitalised word: "LogRecord",
# "SSLContext", "BytesIO"; names that are written so have a prefix ("McDonald", "DeShawn", "O'Connor").
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")
_NAME_PREFIX = re.compile(r"(?:Mc|Mac|De|Di|Du|La|Le|Van|Von|Fitz|St|O['’])[A-Z]")
_SENTENCE_END = frozenset(".!?:;\"'“”(\n")
# Words whose full stop is their own ("Ltd.", "Mr."), not the sentence's.
_ABBREVIATIONS = LEGAL_SUFFIXES | TITLES


@dataclass(slots=True)
class Token:
    start: int
    end: int
    lower: str
    capital: bool
    upper: bool
    initial: bool  # "R." in "Djevad R. Mitnjek"
    sentence_start: bool
    foreign: bool  # letters English does not use: "Sigríður", "Þórshöfn", "ΦΥΛΛΙΑ"
    camel: bool  # capitals inside the word, as code writes identifiers: "LogRecord", "SSLContext"

    @property
    def bare(self) -> str:
        """Without a possessive "'s": "Hans's" is "Hans"."""
        return self.lower[:-2] if self.lower.endswith(("'s", "’s")) else self.lower


def tokenize(text: str) -> list[Token]:
    """The words of a text, each with what the tagger asks of it."""
    out: list[Token] = []
    letters: list[str] = []  # of the dotted abbreviation being read, joined once it ends (not letter by letter)
    for m in _WORD.finditer(text):
        word, end = m.group(), m.end()
        dotted = text[end : end + 1] == "."
        # "R." in "Djevad R. Mitnjek", or "K" in "Wade K Booker" (not "A" or "I", which are words).
        initial = (
            len(word) == 1
            and word.isupper()
            and (dotted or (word not in "AI" and text[end : end + 1] == " " and text[end + 1 : end + 2].isupper()))
        )
        if dotted and (initial or word.lower() in _ABBREVIATIONS):
            end += 1
        if initial and dotted and out and out[-1].initial and out[-1].end == m.start():
            # "S.A.", "N.V.", "L.L.C.": one dotted abbreviation, read as its letters ("sa") like the legal
            # suffix it spells.
            letters += [word.lower()] if letters else [out[-1].lower, word.lower()]
            out[-1].end, out[-1].upper = end, True
            continue
        if letters:
            out[-1].lower = "".join(letters)
            letters.clear()
        last = m.start() - 1  # the last character before the word that is not a space
        while last >= 0 and text[last] in " \t":
            last -= 1
        # The full stop of an initial or a title ("Novel M. Ermakov", "Mr. Boyes") does not end a sentence.
        abbreviated = bool(out) and out[-1].end == last + 1 and (out[-1].initial or out[-1].lower in TITLES)
        # Looked up without accents: the word lists are spelt so ("Ramóna" is "Ramona").
        out.append(
            Token(
                m.start(),
                end,
                fold(word).lower(),
                word[0].isupper(),
                len(word) > 1 and word.isupper(),
                initial,
                last < 0 or (text[last] in _SENTENCE_END and not abbreviated),
                not word.isascii(),
                # (Most words have no capital after their first letter: the pattern is asked of the others.)
                not word[1:].islower() and _CAMEL.search(word) is not None and not _NAME_PREFIX.match(word),
            )
        )
    if letters:
        out[-1].lower = "".join(letters)
    return out


def words_before(text: str, pos: int) -> bool:
    """Whether letters or digits stand between the start of the line and ``pos`` (not only marks, punctuation or
    spaces: "> ", "}} ", "1. "). Read back from ``pos`` to the nearest, never to the line's start: each word of a
    long line may ask."""
    k = pos - 1
    while k >= 0 and text[k] != "\n" and not text[k].isalnum():
        k -= 1
    return k >= 0 and text[k] != "\n"
