"""The built-in tagger for people, places and organisations: capitalisation, word lists and the words around.

A run of capitalised words is a name when one of them is not an ordinary English word ("Tomaszewski",
"Neupré"), or when it reads as given name + surname ("Will Price"), or when a title points at it ("Mr. Hunt").
Ordinary capitalised words ("The Princess Royal", "Please") and a sentence's first word are left alone unless a
word list knows them as a name or a place. The words before the run and its last word decide the type: a legal
suffix makes an organisation, a known place or "in/from/to ..." a location, anything else a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from enclave.guard.lexicon import Lexicon

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# Lower-case words that belong inside a name: "Christiane de Vaan", "Vyskytná nad Jihlavou", "University of X".
_PARTICLES = frozenset({"de", "van", "von", "der", "den", "la", "le", "del", "della", "da", "di", "du", "dos", "das",
                        "bin", "ibn", "al", "el", "ter", "ten", "y", "nad", "pod", "pri", "na", "of", "and", "&"})
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "dear", "mister", "madam", "lady",
                     "lord", "rev", "fr", "sr", "jr", "hon"})
_LEGAL_SUFFIXES = frozenset({"inc", "corp", "corporation", "llc", "llp", "ltd", "limited", "co", "company", "plc",
                             "gmbh", "ag", "sa", "nv", "bv", "pty", "srl", "spa", "oy", "ab", "kg", "lp", "mfg",
                             "incorporated", "sca", "sas", "asa", "kk"})
_ORG_WORDS = frozenset({"group", "holdings", "bank", "university", "college", "institute", "hospital", "clinic",
                        "foundation", "association", "partners", "industries", "technologies", "systems",
                        "solutions", "services", "enterprises", "agency", "trust", "laboratories", "labs",
                        "pharmaceuticals", "therapeutics", "insurance", "airlines", "motors", "bancorp",
                        "society", "council", "ministry", "department", "school", "academy", "church", "fund",
                        "funds", "capital", "ventures", "research", "consulting", "properties", "communications"})
# Organisation words that end a name by themselves ("Boston Consulting Group", "Equity Residential Properties
# Trust"): a run of capitalised words ending in one is an organisation even when every word is ordinary English.
_ORG_ENDINGS = frozenset({"group", "holdings", "bank", "foundation", "trust", "fund", "partners", "industries",
                          "technologies", "systems", "solutions", "laboratories", "pharmaceuticals", "therapeutics",
                          "airlines", "bancorp", "capital", "ventures", "research", "consulting", "properties"})
# Particles of a person's surname (not "of", "and": those join the words of organisations and places).
_NAME_PARTICLES = frozenset({"de", "van", "von", "der", "den", "la", "le", "del", "della", "da", "di", "du", "dos",
                             "das", "bin", "ibn", "al", "el", "ter", "ten"})
_PLACE_CUES = frozenset({"in", "from", "near", "visit", "visiting", "across", "around", "toward", "towards", "via",
                         "leaving", "outside", "inside", "into", "born"})
_NEAR_CUES = frozenset({"to", "at"})  # as often before a person as before a place: only for a single unknown word
# Ústí nad Labem, Stratford upon Avon
_PLACE_PARTICLES = frozenset({"nad", "pod", "pri", "na", "am", "sur", "upon", "on"})
# Capitalised by convention, never a person or place by themselves.
_CALENDAR = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
                       "february", "march", "april", "may", "june", "july", "august", "september", "october",
                       "november", "december"})
# Words that make text title case when capitalised, and are never a name by themselves ("You" is a surname in
# the census lists, "Down" and "Will" too).
_FUNCTION_WORDS = frozenset({"a", "an", "the", "and", "or", "but", "nor", "as", "at", "by", "for", "from", "in",
                             "into", "of", "off", "on", "onto", "out", "over", "to", "up", "down", "with", "via",
                             "i", "you", "he", "she", "it", "we", "they", "me", "him", "us", "them", "my", "your",
                             "his", "her", "its", "our", "their", "this", "that", "these", "those", "is", "are",
                             "was", "were", "be", "been", "will", "shall", "can", "may", "must", "not", "no",
                             "yes", "all", "any", "each", "every", "some", "now", "then", "here", "there"})
# Before a word, these make it a thing, not a person: "the Princess", "our Summer Sale".
_DETERMINERS = frozenset({"a", "an", "the", "this", "that", "these", "those", "my", "your", "his", "her", "its",
                          "our", "their", "every", "each", "some", "any", "no"})
# Unit words of an address ("Ms. Crystal Walker Suite 111"): they end a name, they are not part of it.
_UNIT_WORDS = frozenset({"apt", "suite", "ste", "unit", "flat", "box"})
_SENTENCE_END = frozenset(".!?:;\"'“”(\n")
# Gaps allowed between the words of one name: a space, an initial's full stop, an ampersand ("Oil & Gas",
# "Urban&Civic").
_NAME_GAPS = frozenset({" ", ". ", "&", " & "})


@dataclass(slots=True)
class _Token:
    start: int
    end: int
    lower: str
    capital: bool
    upper: bool
    initial: bool  # "R." in "Djevad R. Mitnjek"
    sentence_start: bool


class ProperNouns:
    """PERSON, LOCATION and ORGANIZATION spans, from word lists and context; no model, no network."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        tokens = self._tokens(text)
        i = 0
        while i < len(tokens):
            if not tokens[i].capital:
                if (found := self._lower_case(tokens, i)) is not None:
                    yield found
                i += 1
                continue
            j = self._run_end(text, tokens, i)
            yield from self._judge(text, tokens, i, j)
            i = j

    def _tokens(self, text: str) -> list[_Token]:
        out: list[_Token] = []
        for m in _WORD.finditer(text):
            word, end = m.group(), m.end()
            initial = len(word) == 1 and word.isupper() and text[end:end + 1] == "."
            if initial or (word.lower() in _LEGAL_SUFFIXES | _TITLES and text[end:end + 1] == "."):
                end += 1
            if initial and out and out[-1].initial and out[-1].end == m.start():
                # "S.A.", "N.V.", "L.L.C.": one dotted abbreviation, read as its letters ("sa") like the legal
                # suffix it spells.
                out[-1].end, out[-1].lower, out[-1].upper = end, out[-1].lower + word.lower(), True
                continue
            before = text[:m.start()].rstrip(" \t")
            # The full stop of an initial or a title ("Novel M. Ermakov", "Mr. Boyes") does not end a sentence.
            abbreviated = bool(out) and out[-1].end == len(before) and (out[-1].initial or out[-1].lower in _TITLES)
            out.append(_Token(m.start(), end, word.lower(), word[0].isupper(), len(word) > 1 and word.isupper(),
                              initial, not before or (before[-1] in _SENTENCE_END and not abbreviated)))
        return out

    @staticmethod
    def _run_end(text: str, tokens: list[_Token], i: int) -> int:
        """One past the last token of the run of capitalised words (and inner particles) starting at i."""
        j = i + 1
        while j < len(tokens):
            gap = text[tokens[j - 1].end:tokens[j].start]
            if gap == "" and text[tokens[j - 1].end - 1] == "." and tokens[j].lower in _LEGAL_SUFFIXES:
                j += 1  # "Co.Ltd.", "Mfg.Co.": abbreviations written without a space
                continue
            if gap == " (" and ProperNouns._parenthesised_before_suffix(text, tokens, j):
                j += 2  # "Banco Products (India) Ltd", "Acme (Pty) Ltd"
                continue
            if gap not in _NAME_GAPS or (gap == ". " and not tokens[j - 1].initial):
                break
            if tokens[j].capital or tokens[j].lower in _LEGAL_SUFFIXES:
                j += 1
            elif tokens[j].lower in _PARTICLES and j + 1 < len(tokens) and tokens[j + 1].capital \
                    and text[tokens[j].end:tokens[j + 1].start] == " ":
                j += 2
            elif tokens[j].lower in _NAME_PARTICLES and j + 2 < len(tokens) and tokens[j + 1].lower in _NAME_PARTICLES \
                    and tokens[j + 2].capital and text[tokens[j].end:tokens[j + 2].start].count(" ") == 2:
                j += 3  # "van der Voet", "de la Cruz"
            else:
                break
        return j

    @staticmethod
    def _parenthesised_before_suffix(text: str, tokens: list[_Token], j: int) -> bool:
        """A capitalised word in brackets right before a legal suffix is part of the company's name."""
        return (j + 1 < len(tokens) and tokens[j].capital and tokens[j + 1].lower in _LEGAL_SUFFIXES
                and text[tokens[j].end:tokens[j + 1].start] == ") ")

    def _kind(self, token: _Token) -> str:
        """strong: a name by itself; weak: a name only beside another or after a title; none: an ordinary word."""
        lex = self._lex
        word = token.lower[:-2] if token.lower.endswith(("'s", "’s")) else token.lower  # "Hans's" is "Hans"
        if token.initial:
            return "weak"
        if word in _CALENDAR or word in _TITLES or word in _UNIT_WORDS or word in _FUNCTION_WORDS:
            return "none"
        if word in lex.countries and not token.upper:
            return "strong"  # "Finland", "Georgia": web2 lists some as ordinary words, but capitalised they are places
        known = word in lex.given_names or word in lex.surnames or word in lex.places
        if token.upper and len(word) <= 4 and not known:
            return "none"  # an acronym: ATM, PIN, ASAP
        # A given name the dictionary lacks is not made ordinary by stemming: "James" is not "jam" + "es".
        if self._ordinary(word) and (word in lex.words or word not in lex.given_names):
            if token.sentence_start and word not in lex.given_names:
                return "none"  # "Call ...", "Price ...": a sentence's first word, and ordinary English
            if word in lex.given_names and not token.sentence_start and not token.upper:
                return "given"  # "given Laura his address": a name, unless the text is in title case
            return "weak" if known else "none"
        if token.sentence_start and not known:
            return "weak"  # "Email me ...": a word the dictionary lacks, at the start, is not a name by itself
        return "strong"

    @staticmethod
    def _determined(tokens: list[_Token], i: int, k: int) -> bool:
        """Whether an article or possessive comes before token k, in its run (from i) or right before the run:
        "the Princess Royal"."""
        return any(t.lower in _DETERMINERS for t in tokens[max(i - 1, 0):k])

    @staticmethod
    def _plain(token: _Token) -> bool:
        """A capitalised ordinary word inside a sentence: not its first word, a title, a month or an acronym."""
        word = token.lower
        return not (token.sentence_start or token.upper or word in _TITLES or word in _CALENDAR
                    or word in _UNIT_WORDS or word in _LEGAL_SUFFIXES)

    def _ordinary(self, word: str) -> bool:
        """An English word, inflected or not: the dictionary lists "identifier", not "Identifiers" or "Encoding"."""
        words = self._lex.words
        base = re.split(r"['’]", word, maxsplit=1)[0]
        if word in words or (len(base) > 1 and base in words) or (base == "i" and word != base):
            # "I'm", "I'd", "I've": the pronoun's contractions, capitalised anywhere in a sentence
            return True
        stems = (base[:-1], base[:-2], base[:-3] + "y", base[:-3], base[:-3] + "e", base[:-2] + "e")
        endings = ("s", "es", "ies", "ing", "ing", "ed")
        return any(base.endswith(e) and s in words for s, e in zip(stems, endings, strict=True) if len(s) > 2)

    def _judge(self, text: str, tokens: list[_Token], i: int, j: int) -> Iterator[tuple[str, int, int]]:
        run = tokens[i:j]
        kinds = [self._kind(t) if t.capital else "particle" for t in run]
        # Capitalised dictionary words inside the sentence: none in a name, several in a heading ("How To Grant
        # Access") or a product ("Summer Sale"), where capitals say nothing about names.
        title_case = sum(1 for k, t in zip(kinds, run, strict=True) if k == "none" and self._plain(t))
        kinds = [("strong" if title_case == 0 and not self._determined(tokens, i, i + k) else "weak")
                 if kind == "given" else kind for k, kind in enumerate(kinds)]
        legal = next((k for k, t in enumerate(run) if t.lower in _LEGAL_SUFFIXES and k > 0), None)
        if legal is not None:
            while legal + 1 < len(run) and run[legal + 1].lower in _LEGAL_SUFFIXES:
                legal += 1  # "Co. Ltd.", "Mfg. Co."
            # "Compare Acme S.A.": an ordinary word opening a sentence is not part of the name; an article
            # ("The Kroger Co.") or an acronym ("SKM Egg Products Ltd") is.
            first = run.index(self._after_opening(run[:legal], kinds[:legal])[0]) if legal > 1 else 0
            yield "ORGANIZATION", run[first].start, run[legal].end
            rest = i + legal + 1  # "Acme S.A. and Initech Ltd": the run goes on after the first company
            while rest < j and not tokens[rest].capital:
                rest += 1
            if rest < j:
                yield from self._judge(text, tokens, rest, j)
            return
        if (place := self._place(run)) is not None:
            yield place
            return
        # Ordinary words at either end are not part of the name: "Dear Archie", "Meet Sabrina Alonso".
        lo, hi = 0, len(run)
        while lo < hi and kinds[lo] in ("none", "particle"):
            lo += 1
        while hi > lo and kinds[hi - 1] in ("none", "particle"):
            hi -= 1
        # Inside a sentence, a capitalised dictionary word right before a name is its given name, not a verb
        # that opens the sentence: "add Felicity Marshall", "}}Alette Lindqvist".
        if title_case == 1 and 0 < lo < hi and kinds[lo - 1] == "none" and self._plain(run[lo - 1]) \
                and kinds[lo] != "particle":
            lo -= 1
        # After "van der", "de", "von" comes the rest of the surname, dictionary word or not: "van der Voet".
        k = hi
        while k < len(run) and kinds[k] == "particle" and run[k].lower in _NAME_PARTICLES:
            k += 1
        if hi < k < len(run) and kinds[k] == "none" and self._plain(run[k]):
            hi = k + 1
        if 0 < lo < hi and run[lo].initial and kinds[lo - 1] == "none" and run[lo - 1].lower not in _TITLES:
            lo -= 1  # the word before a middle initial is a given name, whatever else it means: "Novel M. Ermakov"
        if lo == hi:
            # All ordinary words ("Equity Residential Properties Trust"): an organisation word may still end them.
            if (organisation := self._organisation(self._after_opening(run, kinds))) is not None:
                yield organisation
            return
        core, core_kinds = run[lo:hi], kinds[lo:hi]
        previous = tokens[i + lo - 1].lower if i + lo > 0 else ""
        titled = previous in _TITLES
        names = [t for t, k in zip(core, core_kinds, strict=True) if k != "particle"]
        # Given name + surname; when both are also dictionary words ("Wade Booker", "Rose Garden") only inside a
        # sentence, where capitals are not there for the sentence's sake.
        ordinary_pair = len(names) >= 2 and names[0].lower in self._lex.words and names[-1].lower in self._lex.words
        paired = (len(names) >= 2 and names[0].lower in self._lex.given_names and names[-1].lower in self._lex.surnames
                  and not (ordinary_pair and (names[0].sentence_start or title_case > 0
                                              or self._determined(tokens, i, i + lo))))
        if "strong" not in core_kinds and not paired and not titled:
            # The organisation word itself is ordinary, so it was trimmed from the core: judge up to the run's end.
            if (organisation := self._organisation([t for t in run[lo:] if t.capital])) is not None:
                yield organisation
            return
        start, end = core[0].start, core[-1].end
        yield self._type(text[start:end], core, len(names), previous, titled), start, end

    @staticmethod
    def _after_opening(run: list[_Token], kinds: list[str]) -> list[_Token]:
        """The capitalised words of a run after the ordinary words and particles that open its sentence ("Shares
        in ..."); the last word is always kept."""
        k = 0
        while k < len(run) - 1 and (kinds[k] == "particle" or (kinds[k] == "none" and run[k].sentence_start
                                                               and not run[k].upper and run[k].lower != "the")
                                    or (k > 0 and kinds[k - 1] == "none" and run[k - 1].sentence_start
                                        and not run[k].capital)):
            k += 1
        return [t for t in run[k:] if t.capital]

    def _place(self, run: list[_Token]) -> tuple[str, int, int] | None:
        """A run that is exactly a place of two or more ordinary words ("United Kingdom", "South Africa"), with or
        without a leading "The"; single words are judged by _kind."""
        words = [t.lower for t in run]
        if words[0] == "the":
            run, words = run[1:], words[1:]
        if 2 <= len(words) <= self._lex.longest_place and " ".join(words) in self._lex.places:
            return "LOCATION", run[0].start, run[-1].end
        return None

    def _organisation(self, core: list[_Token]) -> tuple[str, int, int] | None:
        """Capitalised words ending in an organisation word: three or more ("Equity Residential Properties Trust"),
        or two whose first is a name or place ("Boston Consulting"); "Working Group", "Trust Fund" are not."""
        named = [t for t in core if t.lower != "the"]  # "The Trust Fund" is two words, not three
        if len(named) < 2 or core[-1].lower not in _ORG_ENDINGS:
            return None
        if len(named) < 3 and (named[0].sentence_start or self._kind(named[0]) == "none"):
            return None
        return "ORGANIZATION", core[0].start, core[-1].end

    def _type(self, value: str, core: list[_Token], count: int, previous: str, titled: bool) -> str:
        words = [t.lower for t in core]
        if any(w in _ORG_WORDS for w in words) and words[-1] not in self._lex.given_names:
            return "ORGANIZATION"
        if titled:
            return "PERSON"
        place = " ".join(value.lower().split()) in self._lex.places
        given = words[0] in self._lex.given_names
        if place and not (given and len(words) > 1):
            return "LOCATION"
        if not given and (count == 1 or _PLACE_PARTICLES.intersection(words)) and (
                previous in _PLACE_CUES or (previous in _NEAR_CUES and count == 1)):
            return "LOCATION"
        return "PERSON"

    def _lower_case(self, tokens: list[_Token], i: int) -> tuple[str, int, int] | None:
        """Names typed in lower case: an unambiguous given name + surname pair, or a country or US state."""
        lex, word = self._lex, tokens[i].lower
        if word in lex.words or len(word) < 3:
            return None
        if word in lex.countries:
            return "LOCATION", tokens[i].start, tokens[i].end
        if word in lex.given_names and i + 1 < len(tokens):
            nxt = tokens[i + 1]
            if not nxt.capital and nxt.lower in lex.surnames and nxt.lower not in lex.words:
                return "PERSON", tokens[i].start, nxt.end
        return None
