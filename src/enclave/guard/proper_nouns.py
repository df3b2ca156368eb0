"""The built-in tagger for people, places and organisations: capitalisation, word lists and the words around.

A run of capitalised words is a name when one of them is not an ordinary English word ("Tomaszewski",
"Neupré"), or when it reads as given name + surname ("Will Price"), or when a title points at it ("Mr. Hunt").
Ordinary capitalised words ("The Princess Royal", "Please") and a sentence's first word are left alone unless a
word list knows them as a name or a place, or the words around say a name stands there: a person's verb after
it, a speaker's colon, a name asked for, a list with a name in it, the same name found elsewhere in the text.
The words before the run and its last word decide the type: a legal suffix makes an organisation, a known place
or "in/from/to ..." a location (so does a verb of travel, "returned to ..."), anything else a person. A company
keeps every word when it stands alone on its line (a letterhead), and a listing's class after its legal form.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Generator, Iterator
from itertools import accumulate

from enclave.guard.companies import (
    LOWER_CASE_FORMS,
    after_opening,
    line_ends_after,
    lower_case_company,
    parenthesised_before_suffix,
    standalone,
)
from enclave.guard.lexicon import Lexicon
from enclave.guard.name_words import (
    CALENDAR,
    DESTINATIONS,
    DETERMINERS,
    FUNCTION_WORDS,
    LEGAL_SUFFIXES,
    LISTING_WORDS,
    NAME_PARTICLES,
    NAME_QUALIFIERS,
    NATIONALITIES,
    NEAR_CUES,
    OPENING_WORDS,
    ORG_ENDINGS,
    ORG_WORDS,
    PARTICLES,
    PERSON_VERBS,
    PLACE_CUES,
    PLACE_NOUNS,
    PLACE_PARTICLES,
    POST_NOMINALS,
    TITLES,
    TRAVEL_VERBS,
    UNIT_WORDS,
)
from enclave.guard.places import multi_word_place, qualified
from enclave.guard.tokens import Token, tokenize, words_before

# What separates the names of a list: "Lewis, Ashley, Austin and Tracey".
_LIST_GAPS = frozenset({", ", " and ", ", and ", " & ", " or ", ", or "})
_APOSTROPHE = re.compile(r"['’]")
# Gaps allowed between the words of one name: a space, an initial's full stop, an ampersand ("Oil & Gas",
# "Urban&Civic").
_NAME_GAPS = frozenset({" ", ". ", "&", " & "})


class ProperNouns:
    """PERSON, LOCATION and ORGANIZATION spans, from word lists and context; no model, no network."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        tokens = tokenize(text)
        multiline = "\n" in text
        spans: list[tuple[str, int, int]] = []
        i = 0
        while i < len(tokens):
            if not tokens[i].capital:
                if (found := self._lower_case(tokens, i)) is not None:
                    spans.append(found)
                i += 1
                continue
            j = self._run_end(text, tokens, i)
            spans.extend(self._judge(text, tokens, i, j, multiline))
            i = j
        yield from (qualified(text, span) for span in spans)
        yield from self._mentions(text, tokens, spans)

    def _mentions(
        self, text: str, tokens: list[Token], spans: list[tuple[str, int, int]]
    ) -> Iterator[tuple[str, int, int]]:
        """Other mentions of the people found, where capitals alone said nothing: the same name elsewhere in the
        text ("Forbes was influenced ... sung by Subhan Forbes"), and the names listed with one ("They had 3:
        Khasucha, Brenda and Michael")."""
        # Which tokens the spans cover, and which a person's: one pass, so long texts stay linear.
        starts = [t.start for t in tokens]
        taken = [False] * len(tokens)
        person = [False] * len(tokens)
        for kind, start, end in spans:
            for k in range(bisect_left(starts, start), bisect_left(starts, end)):
                taken[k] = True
                person[k] = person[k] or kind == "PERSON"
        names = {
            t.bare
            for k, t in enumerate(tokens)
            if person[k] and t.capital and len(t.lower) > 2 and not t.initial and self._kind(t) != "none"
        }
        if not names:
            return
        found = [k for k, t in enumerate(tokens) if not taken[k] and t.capital and t.bare in names]
        for k in found:
            taken[k] = person[k] = True
        work = [k for k in range(len(tokens)) if person[k]]
        while work:  # each name found may lead on to the next in its list
            k = work.pop()
            for n in self._list_neighbours(tokens, k):
                near = tokens[n]
                if (
                    not taken[n]
                    and near.capital
                    and self._listable(near)
                    and text[min(near.end, tokens[k].end) : max(near.start, tokens[k].start)] in _LIST_GAPS
                ):
                    taken[n] = person[n] = True
                    found.append(n)
                    work.append(n)
        for k in sorted(found):
            yield "PERSON", tokens[k].start, tokens[k].end

    @staticmethod
    def _list_neighbours(tokens: list[Token], k: int) -> Iterator[int]:
        """The words either side of token k, past an "and" or "or" between them."""
        for step in (-1, 1):
            n = k + step
            if 0 <= n < len(tokens) and tokens[n].lower in ("and", "or"):
                n += step
            if 0 <= n < len(tokens):
                yield n

    def _listable(self, token: Token) -> bool:
        """A word that is a name when listed with names: a given name or surname, or a word the dictionary lacks
        ("Lewis, Ashley", "April, Michael", "Khasucha, Brenda"); not "and", "You", an initial or an acronym."""
        word = token.bare
        if token.initial or word in FUNCTION_WORDS or word in TITLES or (token.upper and len(word) <= 4):
            return False
        return word in self._lex.given_names or word in self._lex.surnames or self._kind(token) != "none"

    @staticmethod
    def _run_end(text: str, tokens: list[Token], i: int) -> int:
        """One past the last token of the run of capitalised words (and inner particles) starting at i."""
        j = i + 1
        while j < len(tokens):
            gap = text[tokens[j - 1].end : tokens[j].start]
            if gap == "" and text[tokens[j - 1].end - 1] == "." and tokens[j].lower in LEGAL_SUFFIXES:
                j += 1  # "Co.Ltd.", "Mfg.Co.": abbreviations written without a space
                continue
            if gap == " (" and parenthesised_before_suffix(text, tokens, j):
                j += 2  # "Banco Products (India) Ltd", "Acme (Pty) Ltd"
                continue
            if gap not in _NAME_GAPS or (gap == ". " and not tokens[j - 1].initial):
                break
            if tokens[j].capital or tokens[j].lower in LEGAL_SUFFIXES:
                j += 1
            elif (
                tokens[j].lower in PARTICLES
                and j + 1 < len(tokens)
                and tokens[j + 1].capital
                and text[tokens[j].end : tokens[j + 1].start] == " "
            ):
                j += 2
            elif (
                tokens[j].lower in NAME_PARTICLES
                and j + 2 < len(tokens)
                and tokens[j + 1].lower in NAME_PARTICLES
                and tokens[j + 2].capital
                and text[tokens[j].end : tokens[j + 2].start].count(" ") == 2
            ):
                j += 3  # "van der Voet", "de la Cruz"
            else:
                break
        return j

    def _kind(self, token: Token) -> str:
        """strong: a name by itself; weak: a name only beside another or after a title; none: an ordinary word."""
        lex = self._lex
        word = token.bare  # "Hans's" is "Hans"
        if token.initial:
            return "weak"
        if word in CALENDAR or word in TITLES or word in UNIT_WORDS or word in FUNCTION_WORDS or word in NATIONALITIES:
            return "none"
        if token.camel:
            return "none"  # an identifier from code ("LogRecord", "TypedDict"), or a brand ("iPhone")
        if word in lex.countries and not token.upper:
            return "strong"  # "Finland", "Georgia": web2 lists some as ordinary words, but capitalised they are places
        known = word in lex.given_names or word in lex.surnames or word in lex.places
        if token.upper and (len(word) <= 2 or (len(word) <= 4 and not known)) and word not in lex.places:
            return "none"  # an acronym: ATM, PIN, ASAP; "IP" and "NG" are surnames too
        # A given name the dictionary lacks is not made ordinary by stemming: "James" is not "jam" + "es"; nor
        # is a word spelt with letters English does not use, but at a sentence's start ("Café" is, "Bilić" isn't).
        if (
            self._lex.ordinary(word)
            and (word in lex.words or word not in lex.given_names)
            and (token.sentence_start or not token.foreign)
        ):
            if token.sentence_start and word not in lex.given_names:
                return "none"  # "Call ...", "Price ...": a sentence's first word, and ordinary English
            if word in lex.given_names and not token.sentence_start and not token.upper:
                return "given"  # "given Laura his address": a name, unless the text is in title case
            return "weak" if known else "none"
        if token.sentence_start and not known and not token.foreign:
            # "Email me ...": a word the dictionary lacks, at the start, is not a name by itself; one spelt with
            # letters English does not use ("Sigríður, can I ...") is.
            return "weak"
        return "strong"

    def _cue(self, text: str, tokens: list[Token], i: int, j: int) -> str | None:
        """What the words around a run say of it: "label", a speaker's at the start of a line ("Tammy: Remember
        me?"); "answer", after someone's name is asked or given ("your last name? Pinto", "Name: Cleofe Mateo");
        "subject", a sentence's one first word before a verb whose subject is a person ("Peter had given ...") or
        before a comma."""
        first, last = tokens[i], tokens[j - 1]
        if j - i <= 3 and text.startswith(":", last.end) and not words_before(text, first.start):
            return "label"
        k = i - 1
        if k > 0 and tokens[k].lower in ("is", "was"):
            k -= 1
        if (
            k >= 0
            and (
                tokens[k].lower == "surname"
                or (
                    tokens[k].lower == "name"
                    and (text.startswith(":", tokens[k].end) or (k > 0 and tokens[k - 1].lower in NAME_QUALIFIERS))
                )
            )
            and not any(c in ".!\n" for c in text[tokens[k].end : first.start])
        ):
            return "answer"
        if (
            first.sentence_start
            and j - i == 1
            and (
                text.startswith(", ", last.end)
                or (
                    j < len(tokens)
                    and tokens[j].lower in PERSON_VERBS
                    and text[last.end : tokens[j].start] == " "
                    and not self._passive(tokens, j)
                )
            )
        ):
            return "subject"  # or the one it speaks to: "Rayan, can I speak to your boss?"
        return None

    @staticmethod
    def _passive(tokens: list[Token], j: int) -> bool:
        """ "Grant is awarded": a thing's verb, not a person's."""
        return tokens[j].lower in ("is", "was") and j + 1 < len(tokens) and tokens[j + 1].lower.endswith("ed")

    def _cued(self, token: Token, kind: str, cue: str) -> str:
        """A word's kind when its context says a name stands there: a given name or a word the dictionary lacks
        is one; a surname that is also an English word only when the name was asked for ("name? Pinto")."""
        word = token.bare
        if kind == "weak" and not token.initial:
            return "strong"
        if (
            cue == "answer"
            and kind == "none"
            and word not in FUNCTION_WORDS
            and (word in self._lex.surnames or word in self._lex.given_names)
        ):
            return "strong"
        return kind

    @staticmethod
    def _plain(token: Token) -> bool:
        """A capitalised ordinary word inside a sentence: not its first word, a title, a month, an acronym or the
        pronoun I ("I'm", always capitalised)."""
        word = token.lower
        return not (
            token.sentence_start
            or token.upper
            or word in TITLES
            or word in CALENDAR
            or word in UNIT_WORDS
            or word in LEGAL_SUFFIXES
            or word in NATIONALITIES
            or _APOSTROPHE.split(word, maxsplit=1)[0] == "i"
        )

    def _plain_name(self, token: Token) -> bool:
        """A name-list word that is not a function word, title, month or unit ("Tilly", "Novel", "Peer")."""
        word = token.bare
        return (word in self._lex.given_names or word in self._lex.surnames) and not (
            word in FUNCTION_WORDS
            or word in TITLES
            or word in CALENDAR
            or word in UNIT_WORDS
            or word in NATIONALITIES
            or word in LEGAL_SUFFIXES
        )

    def _judge(self, text: str, tokens: list[Token], i: int, j: int, multiline: bool) -> Iterator[tuple[str, int, int]]:
        """The spans of the run tokens[i:j]. A run of several companies ("Acme S.A. and Initech Ltd") is read one
        company at a time, each time as a run of its own from the next company's first word to the run's end;
        what every reading shares is worked out once, so a run of many companies is read in linear time."""
        run = _Run(self, tokens, i, j)
        ends_line = line_ends_after(text, tokens[j - 1].end, multiline)
        start: int | None = i
        while start is not None:
            start = yield from self._judge_from(text, tokens, start, run, ends_line)

    def _judge_from(
        self, text: str, tokens: list[Token], i: int, facts: _Run, ends_line: bool
    ) -> Generator[tuple[str, int, int], None, int | None]:
        """The spans of the run from token i to its end; where the words after a company are to be read as a run
        of their own, the index of their first word."""
        j = facts.end
        cue = self._cue(text, tokens, i, j)
        # Capitalised dictionary words inside the sentence: none in a name, several in a heading ("How To Grant
        # Access") or a product ("Summer Sale"), where capitals say nothing about names.
        title_case = facts.title_case(i)

        def kind(k: int) -> str:
            return facts.kind(i, k, cue)

        if (
            j - i == 1
            and kind(0) == "weak"
            and tokens[i].sentence_start
            and j < len(tokens)
            and tokens[j].lower in PLACE_NOUNS
            and text[tokens[i].end : tokens[j].start] == " "
        ):
            yield "LOCATION", tokens[i].start, tokens[i].end  # "Lovenjoel bridge"
            return None
        # A run alone on its line (a letterhead, an address block) or opening a list after a colon is a name
        # from its first word: no sentence opens there.
        whole = standalone(text, tokens[i].start, ends_line)
        legal = next((k for k in range(1, j - i) if tokens[i + k].bare in LEGAL_SUFFIXES), None)
        if legal is not None:
            while i + legal + 1 < j and tokens[i + legal + 1].bare in LEGAL_SUFFIXES:
                legal += 1  # "Co. Ltd.", "Mfg. Co."
            while i + legal + 1 < j and tokens[i + legal + 1].lower in LISTING_WORDS:
                legal += 1 + (i + legal + 2 < j and len(tokens[i + legal + 2].lower) == 1)  # "Class A"
            # "Compare Acme S.A.": an ordinary word opening a sentence is not part of the name; an article
            # ("The Kroger Co.") or an acronym ("SKM Egg Products Ltd") is, and so is every word when the company
            # is the sentence's subject ("Vine Energy Inc. is ...").
            after = i + legal + 1
            subject = after < len(tokens) and tokens[after].lower in PERSON_VERBS
            company = tokens[i:after]
            first = (
                company.index(after_opening(company[:legal], [kind(k) for k in range(legal)])[0])
                if legal > 1 and not subject and not whole
                else 0
            )
            # "Thaís Correia of Marine Products Corporation": a person of a company is two names.
            of = next((k for k in range(first + 1, legal) if company[k].lower == "of"), None)
            if of is not None and kind(of - 1) == "strong":
                yield "PERSON", company[first].start, company[of - 1].end
                first = of + 1
            yield "ORGANIZATION", company[first].start, company[legal].end
            rest = after  # "Acme S.A. and Initech Ltd": the run goes on after the first company
            while rest < j and not tokens[rest].capital:
                rest += 1
            return rest if rest < j else None
        run = tokens[i:j]
        kinds = [kind(k) for k in range(j - i)]
        if (place := multi_word_place(self._lex, run)) is not None:
            yield place
            return None
        # "arrived at Pap", "returned to Liers": after a verb of travel and its preposition stands a place, even
        # one spelt like an English word.
        if (
            i >= 2
            and tokens[i - 1].lower in ("to", "at", "in")
            and tokens[i - 2].lower in TRAVEL_VERBS
            and all(k != "none" or self._plain(t) for t, k in zip(run, kinds, strict=True))
            and not any(t.bare in CALENDAR or t.bare in FUNCTION_WORDS or t.bare in DESTINATIONS for t in run)
        ):
            yield "LOCATION", run[0].start, run[-1].end
            return None
        # A run ending in an organisation word names the organisation, person's name or not: "Calamos
        # Convertible Opportunities and Income Fund", "Kld Research".
        if (organisation := self._organisation(run if whole else after_opening(run, kinds))) is not None:
            yield organisation
            return None
        # Ordinary words at either end are not part of the name: "Dear Archie", "Meet Sabrina Alonso".
        lo, hi = 0, len(run)
        while lo < hi and kinds[lo] in ("none", "particle"):
            lo += 1
        while hi > lo and kinds[hi - 1] in ("none", "particle"):
            hi -= 1
        # Inside a sentence, a capitalised dictionary word right before a name is its given name, not a verb
        # that opens the sentence: "add Felicity Marshall", "}}Alette Lindqvist".
        if (
            title_case == 1
            and 0 < lo < hi
            and kinds[lo - 1] == "none"
            and self._plain(run[lo - 1])
            and kinds[lo] != "particle"
        ):
            lo -= 1
        # At a sentence's start, a word the name lists know, right before a name nothing else could be, is its
        # given name ("Tilly Nicholson", "Saber Daviau"), unless it asks for someone or names a role ("Call Novak",
        # "Patient Miller").
        elif (
            lo == 1
            and hi > 1
            and kinds[0] == "none"
            and kinds[1] == "strong"
            and run[0].sentence_start
            and run[0].lower not in OPENING_WORDS
            and not run[0].upper
            and self._plain_name(run[0])
        ):
            lo = 0
        # After "van der", "de", "von" comes the rest of the surname, dictionary word or not: "van der Voet".
        k = hi
        while k < len(run) and kinds[k] == "particle" and run[k].lower in NAME_PARTICLES:
            k += 1
        if hi < k < len(run) and kinds[k] == "none" and self._plain(run[k]):
            hi = k + 1
        if 0 < lo < hi and run[lo].initial and kinds[lo - 1] == "none" and run[lo - 1].lower not in TITLES:
            lo -= 1  # the word before a middle initial is a given name, whatever else it means: "Novel M. Ermakov"
        while hi < len(run) and run[hi].lower.rstrip(".") in POST_NOMINALS:
            hi += 1
        if lo == hi:
            return None
        core, core_kinds = run[lo:hi], kinds[lo:hi]
        previous = tokens[i + lo - 1].lower if i + lo > 0 else ""
        titled = previous in TITLES or cue is not None  # a title or the words around say it is a person
        names = [t for t, k in zip(core, core_kinds, strict=True) if k != "particle"]
        # Given name + surname; when both are also dictionary words ("Wade Booker", "Rose Garden") only inside a
        # sentence, where capitals are not there for the sentence's sake.
        ordinary_pair = len(names) >= 2 and names[0].lower in self._lex.words and names[-1].lower in self._lex.words
        paired = (
            len(names) >= 2
            and names[0].lower in self._lex.given_names
            and names[-1].lower in self._lex.surnames
            and not (ordinary_pair and (names[0].sentence_start or title_case > 0 or facts.determined(i, i + lo)))
        )
        # A word no list knows, before a surname: a given name from elsewhere ("Teodor Aune", "Frederikke Toft").
        paired = paired or (
            len(names) == 2
            and not names[0].upper
            and names[1].lower in self._lex.surnames
            and not self._lex.ordinary(names[0].lower)
            and core_kinds[0] == "weak"
        )
        if "strong" not in core_kinds and not paired and not titled:
            return None
        start, end = core[0].start, core[-1].end
        yield self._type(text[start:end], core, len(names), previous, titled), start, end
        return None

    def _organisation(self, core: list[Token]) -> tuple[str, int, int] | None:
        """Capitalised words ending in an organisation word: three or more ("Equity Residential Properties Trust"),
        or two whose first is a name or place ("Boston Consulting"); "Working Group", "Trust Fund" are not."""
        named = [t for t in core if t.lower != "the"]  # "The Trust Fund" is two words, not three
        if len(named) < 2 or core[-1].lower not in ORG_ENDINGS:
            return None
        if len(named) < 3 and (named[0].sentence_start or self._kind(named[0]) == "none"):
            return None
        return "ORGANIZATION", core[0].start, core[-1].end

    def _type(self, value: str, core: list[Token], count: int, previous: str, titled: bool) -> str:
        words = [t.lower for t in core]
        if any(w in ORG_WORDS for w in words) and words[-1] not in self._lex.given_names:
            return "ORGANIZATION"
        if titled:
            return "PERSON"
        place = " ".join(value.lower().split()) in self._lex.places
        given = words[0] in self._lex.given_names
        if place and not (given and len(words) > 1):
            return "LOCATION"
        if (
            not given
            and (count == 1 or PLACE_PARTICLES.intersection(words))
            and (previous in PLACE_CUES or (previous in NEAR_CUES and count == 1))
        ):
            return "LOCATION"
        return "PERSON"

    def _lower_case(self, tokens: list[Token], i: int) -> tuple[str, int, int] | None:
        """Names typed in lower case: an unambiguous given name + surname pair, a country or US state, or a
        company before its legal form."""
        lex, word = self._lex, tokens[i].lower
        if word in LOWER_CASE_FORMS:
            return lower_case_company(tokens, i)
        if word in lex.words or len(word) < 3:
            return None
        if word in lex.countries:
            return "LOCATION", tokens[i].start, tokens[i].end
        if word in lex.given_names and i + 1 < len(tokens):
            nxt = tokens[i + 1]
            if not nxt.capital and nxt.lower in lex.surnames and nxt.lower not in lex.words:
                return "PERSON", tokens[i].start, nxt.end
        return None


class _Run:
    """What every reading of one run of capitalised words shares (see ProperNouns._judge): each word's kind by
    itself, the capitalised dictionary words from each word to the run's end, and the articles before each."""

    def __init__(self, nouns: ProperNouns, tokens: list[Token], i: int, j: int) -> None:
        self.end = j
        self._nouns = nouns
        self._tokens = tokens
        self._i = i
        self._base = [nouns._kind(t) if t.capital else "particle" for t in tokens[i:j]]
        self._title_case = [0] * (j - i + 1)
        for k in range(j - i - 1, -1, -1):
            plain = self._base[k] == "none" and nouns._plain(tokens[i + k])
            self._title_case[k] = self._title_case[k + 1] + plain
        # Articles and possessives among the tokens from the one before the run: how many before each.
        self._from = max(i - 1, 0)
        self._determiners = [0, *accumulate(t.lower in DETERMINERS for t in tokens[self._from : j])]

    def title_case(self, start: int) -> int:
        """Capitalised dictionary words from token ``start`` to the run's end."""
        return self._title_case[start - self._i]

    def determined(self, start: int, k: int) -> bool:
        """Whether an article or possessive comes before token k, in its run read from ``start`` or right before
        it: "the Princess Royal"."""
        return self._determiners[k - self._from] > self._determiners[max(start - 1, 0) - self._from]

    def kind(self, start: int, k: int, cue: str | None) -> str:
        """The kind of the k-th word of the run read from token ``start`` (see ProperNouns._kind), after what the
        run as a whole and the words around it say."""
        kind = self._base[start - self._i + k]
        if kind == "given":
            kind = "strong" if self.title_case(start) == 0 and not self.determined(start, start + k) else "weak"
        if cue is not None:
            kind = self._nouns._cued(self._tokens[start + k], kind, cue)
        return kind
