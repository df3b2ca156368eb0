"""People's names, found on evidence: a name list that knows the words, and the words around them.

A capitalised word is not a name for being capitalised: German nouns, product names and headings are too. A run
of words names a person when

- a given name stands before another name ("Femke Smit", "Grace Ndlovu", "GÜNTHER HAAS"), initials before a
  surname ("A. Okafor"), or a surname before a comma and a given name ("Müller, Hans-Jürgen");
- a given name stands alone that is no everyday word ("Olivier passe le soir");
- in English text, or text with no cue word of any language, two capitalised words stand together that are no
  English word, city, known term or firm ("Please add Arbi Vizirov");
- the words around say so, for surnames and for names that are also words ("Will", "Grace", "Rosa", "Wilk"): a
  title ("Mrs", "Herrn", "Mme", "Sr.", "dott.ssa", "mevr.", "panią"), a role ("daughter", "Patientin:",
  "Kontoinhaber"), a greeting ("Hi Mark", "Beste Sanne"), a mail header ("From: ...", "... <a@b.c>"), or a verb
  whose subject is a person ("Mark Ellison wrote");
- a person's name found once is found again ("Frau Vogel" after "Sabine Vogel").

Names in lower case ("will hughes", "sol ferrer") are names where an e-mail address in the text spells them, where
a word before asks for a name ("kontoinhaber", "au nom de", "t.n.v."), where a verb of a person follows, or where
both words are names and neither is an English word. Software, services and eponyms ("Kafka", "Parkinson's
disease", "Dijkstra-Algorithmus") give no evidence of anyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import names

from enclave.guard import known_terms
from enclave.guard.languages import languages
from enclave.guard.lexicon import Lexicon, fold
from enclave.guard.name_lists import GIVEN_NAMES, SURNAMES, WORD_NAMES
from enclave.guard.name_words import LEGAL_SUFFIXES, NATIONALITIES, ORG_ENDINGS, POST_NOMINALS, UNIT_WORDS
from enclave.guard.person_cues import (
    CALENDAR,
    COMPANY_CUES,
    FUNCTION_WORDS,
    GREETINGS,
    HEADER_LABELS,
    NAME_CUES,
    PARTICLES,
    PERSON_VERBS,
    ROLES,
    TEAM_WORDS,
    TITLES,
)
from enclave.guard.tokens import Token, tokenize

Span = tuple[str, int, int]

# Ranks in the Census lists down to which a given name is common (about 1 in 10,000 Americans).
_CENSUS_TOP_MALE = 1000
_CENSUS_TOP_FEMALE = 1000

# What a token is worth as evidence of a name.
GIVEN = 4  # a given name that is no everyday word
WORD_GIVEN = 3  # a given name that is also a word: "Will", "Grace", "Rosa"
SURNAME = 2
UNKNOWN = 1  # capitalised, no list knows it, nothing says it is not a name
NONE = 0

# Degrees German writes after a title ("Dr. med. Jan Petersen"), and the endings Italian and Spanish write after
# a title's full stop ("dott.ssa", "Sig.ra", "Sra.").
_DEGREES = frozenset({"med", "dent", "vet", "jur", "phil", "nat", "rer", "habil"})
_TITLE_ENDINGS = {"ssa": "dott", "ra": "sig", "na": "sig"}


# Words before a name typed in lower case that ask for it: "name on account", "au nom de", "t.n.v.", "intestato a".
_LOWER_CUE = re.compile(
    r"(?i:\bt\.?n\.?v\.?|\bname on (?:the )?account|\bau nom de|\ba nombre de|\bintestat[oa] a|\bop naam van"
    r"|\bna nazwisko|\bw[lł]a[sś]ciciel(?:ka)?|\bkontoinhaber(?:in)?|\baccount holder)"
    r"\s*:?\s*$"
)
_DOMAIN = re.compile(r"[A-Za-z0-9-]{1,63}\.[A-Za-z]")
_LOCAL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
# A user's home folder names its owner: C:\Users\jschubert, /home/mkowalski.
_HOME = re.compile(r"(?:\b[A-Za-z]:\\+Users\\+|/home/|/Users/)([A-Za-z][A-Za-z0-9._-]{2,30})")
_CUE_WORDS = (
    FUNCTION_WORDS
    | CALENDAR
    | TEAM_WORDS
    | TITLES
    | ROLES
    | GREETINGS
    | HEADER_LABELS
    | NAME_CUES
    | COMPANY_CUES
    | LEGAL_SUFFIXES
    | UNIT_WORDS
)
# Endings of surnames in the languages whose names the lists miss most: "Samoylova", "Kovalenko", "Petrović".
# (Not Polish "-ski", "-ska": adjectives end so too, "Politechnika Warszawska".)
_SURNAME_SHAPE = re.compile(
    r"...(?:ova|ová|eva|ovna|wicz|enko|ić|vić|ovic|ović|sson|escu|yan|dze|shvili|oglu|oğlu|opoulos|akis)$"
)
# Endings of German and Dutch nouns, and their length: what a capitalised unknown word in a text without cue words
# more likely is than a name ("Quartalsabschluss", "Bestuursvergadering", "Dienstplan").
_NOUN_ENDING = re.compile(
    r"(?:ung|heit|keit|schaft|nahme|plan|ling|ing|tion|sion|ismus|itat|iteit|raum|zimmer|dienst|schluss|bericht"
    r"|stelle|gang|werk|zeug|wesen|leitung|ordnung|lijst|zaak|dag|tag)$"
)
_LONGEST_NAME = 13  # letters: "Kristoffersen"; "Vorstandssitzung" is longer


def _noun(word: str) -> bool:
    return len(word) > _LONGEST_NAME or _NOUN_ENDING.search(word) is not None


# Given names that are also a month's short form, and what says it is the month: a number after it.
_DATED = frozenset({"jan"})
_NUMBER_AROUND = re.compile(r"\.?,? \d")
_CAPITAL_NEXT = re.compile(r" [^\W\d_]")
# Before a name that is also a word, these make it a thing's: "our Summer Sale", "the Rose Garden".
_DETERMINERS = frozenset(
    {"the", "a", "an", "our", "your", "my", "their", "his", "her", "its", "this", "that"}
    | {"der", "die", "das", "den", "dem", "des", "le", "la", "les", "un", "une", "el", "los", "las", "il", "lo", "gli"}
    | {"het", "een"}
)
_SAINTS = frozenset({"st", "saint", "sainte", "san", "santa", "sankt", "ste", "santo", "sao"})


@dataclass(frozen=True, slots=True)
class NameWords:
    given: frozenset[str]
    common_given: frozenset[str]  # given names that name someone by themselves, not only beside a surname
    inflected: frozenset[str]  # the European lists' given names in their Polish cases ("Teresie", "Piotra")
    surnames: frozenset[str]
    word_names: frozenset[str]
    lexicon: Lexicon


def _folded(text: str) -> set[str]:
    return {fold(word).lower() for word in text.split()}


def _common_census_names() -> set[str]:
    """The Census given names common enough to name someone by themselves: its 5,163 names run down to ones
    given to one American in 100,000 ("Versie", "Spring", "Valencia"), which are as often other words."""
    common: set[str] = set()
    for key, top in (("first:male", _CENSUS_TOP_MALE), ("first:female", _CENSUS_TOP_FEMALE)):
        with open(names.FILES[key], encoding="ascii") as lines:
            for line in lines:
                name, _, _, rank = line.split()
                if int(rank) <= top:
                    common.add(name.lower())
    return common


@cache
def name_words(lexicon: Lexicon) -> NameWords:
    """The name lists, built once per process: the Census lists and the European ones, less the words that are
    never names (function words, the calendar, nationalities)."""
    never = FUNCTION_WORDS | CALENDAR | NATIONALITIES
    curated = _folded(GIVEN_NAMES)
    given = (lexicon.given_names | curated) - never
    common = (_common_census_names() | curated) - never
    surnames = (lexicon.surnames | _folded(SURNAMES) | {s.replace("'", "") for s in _folded(SURNAMES)}) - never
    # Polish cases of the European names: the feminine ones end in -a, the masculine in a consonant ("Piotr");
    # a case that is a place or an English word is left out ("Hana" + "u" is Hanau).
    masculine = {n for n in curated if n[-1] not in "aeiouy"}
    cases = _inflections(curated - never, _GIVEN_ENDINGS) | _inflections(masculine - never, _GIVEN_ENDINGS_M)
    cases = {c for c in cases - curated if c not in lexicon.places and c not in lexicon.words} | (curated - never)
    surname_cases = _inflections(_folded(SURNAMES) - never, _SURNAME_ENDINGS, rounds=2)
    return NameWords(
        frozenset(given | cases),
        frozenset(common),
        frozenset(cases),
        frozenset(surnames | surname_cases),
        frozenset(_folded(WORD_NAMES)),
        lexicon,
    )


# Polish inflects names: "Teresie Nowickiej" is Teresa Nowicka, "Agnieszkę" Agnieszka, "Piotra" Piotr.
_GIVEN_ENDINGS = (("ie", "a"), ("ce", "ka"), ("rze", "ra"), ("e", "a"), ("y", "a"), ("i", "a"), ("o", "a"))
_GIVEN_ENDINGS_M = (("owi", ""), ("em", ""), ("ka", "ek"), ("a", ""), ("u", ""))
_SURNAME_ENDINGS = (
    ("skiej", "ska"),
    ("skiego", "ski"),
    ("skiemu", "ski"),
    ("skim", "ski"),
    ("ckiej", "cka"),
    ("ckiego", "cki"),
    ("ckim", "cki"),
    ("dzkiej", "dzka"),
    ("dzkiego", "dzki"),
    ("ska", "ski"),
    ("cka", "cki"),
    ("dzka", "dzki"),
    ("owej", "owa"),
    ("a", ""),
)


def _inflections(words: set[str], endings: tuple[tuple[str, str], ...], rounds: int = 1) -> set[str]:
    """The words in the cases the endings make ("teresa" -> "teresie", "nowicki" -> "nowicka" -> "nowickiej"),
    built once so a lookup is one set's."""
    forms = set(words)
    for _ in range(rounds):
        forms |= {
            word[: len(word) - len(base)] + end
            for word in forms
            for end, base in endings
            if word.endswith(base) and len(word) - len(base) >= 3
        }
    return forms


class _Spelt:
    """The pieces of the e-mail addresses' local parts and the home folders in a text ("willhughes1990" holds
    "will", "hughes", "willhughes"...), so asking whether a name is spelt in one costs one lookup however many
    addresses the text has."""

    _LONGEST = 16  # letters: a longer name is rarely written into an address whole

    def __init__(self, text: str) -> None:
        self._pieces: set[str] = set()
        if "@" not in text and "Users" not in text and "/home/" not in text:
            return
        for local in (*self._locals(text), *(m.group(1) for m in _HOME.finditer(text))):
            for run in re.findall(r"[a-z]+", fold(local).lower()):
                self._pieces.update(
                    run[a:b] for a in range(len(run)) for b in range(a + 1, min(len(run), a + self._LONGEST) + 1)
                )

    def __contains__(self, word: str) -> bool:
        return word in self._pieces

    @staticmethod
    def _locals(text: str) -> Iterator[str]:
        """The local part before each "@", read back from it at most 64 characters (a pattern started at every
        character of a long run of local-part characters would read the run again from each)."""
        at = text.find("@")
        while at >= 0:
            start = at
            while start > max(0, at - 64) and text[start - 1] in _LOCAL_CHARACTERS:
                start -= 1
            if start < at and _DOMAIN.match(text, at + 1):
                yield text[start:at]  # an address's ("Leader@1283" in a log is none)
            at = text.find("@", at + 1)


class _Language:
    """What a text's cue words say of its language, asked once, and only when a run of unknown words needs it:
    English, none (a list of names, an address block, a heading), or another."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._found: list[str] | None = None

    def _languages(self) -> list[str]:
        if self._found is None:
            self._found = languages(self._text)
        return self._found

    @property
    def english(self) -> bool:
        found = self._languages()
        return bool(found) and found[0] == "en"

    @property
    def unknown(self) -> bool:
        return not self._languages()


class People:
    """PERSON spans; no model, no network."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._words = name_words(lexicon)

    # -- what one word is worth --------------------------------------------------------------------------------

    def _given(self, word: str) -> bool:
        given = self._words.given
        if word in given:
            return True
        return "-" in word and all(part in given for part in word.split("-"))

    def _surname(self, word: str) -> bool:
        surnames = self._words.surnames
        if word in surnames or word.replace("'", "").replace("’", "") in surnames:
            return True
        return "-" in word and all(self._surname(part) for part in word.split("-") if part)

    def _worth(self, text: str, token: Token) -> int:
        """The evidence one capitalised word gives of a name, by itself."""
        word = token.bare
        if token.initial:
            # "R." in "Djevad R. Mitnjek", not the "Z" of a timestamp ("10:15:03Z WARN")
            return NONE if token.start > 0 and text[token.start - 1].isalnum() else UNKNOWN
        if word in FUNCTION_WORDS and word in self._words.word_names and not (token.sentence_start or token.upper):
            return WORD_GIVEN  # "son Will can bring her", "Mr Will Price": capitalised inside a sentence
        if word in _CUE_WORDS or token.camel:
            return NONE  # "Dr", "Frau", "Kontoinhaber", "Hallo": they say a name follows, they are none
        if word in _DATED and _NUMBER_AROUND.match(text, token.end):
            return NONE  # "12 Jan 2025"
        if self._given(word):
            common = self._words.common_given
            rare = word not in common and "-" not in word and word not in self._words.inflected
            worth = WORD_GIVEN if word in self._words.word_names or rare else GIVEN
        elif self._surname(word):
            if token.sentence_start and self._words.lexicon.ordinary(word) and _CAPITAL_NEXT.match(text, token.end):
                return NONE  # "Call Inessa ...", "Ask Tomasz": a verb opening the sentence, before the name
            worth = SURNAME
        elif len(word) < 2 or (token.upper and len(word) <= 4):
            return NONE  # an acronym: "ICU", "NHS", "SAP"
        elif self._words.lexicon.ordinary(word) and not token.foreign:
            return NONE  # an English word: "Please", "Discharge"
        else:
            worth = UNKNOWN
        # Asked last, of the few words that could be names: "Parkinson's disease", "morbus Crohn".
        return NONE if known_terms.eponym(text, token.start, token.end, word) else worth

    # -- the text ----------------------------------------------------------------------------------------------

    def find(self, text: str) -> Iterator[Span]:
        tokens = tokenize(text)
        if not tokens:
            return
        worth = [self._worth(text, t) if t.capital else NONE for t in tokens]
        spelt = _Spelt(text)
        language = _Language(text)
        person = [False] * len(tokens)
        joined: set[int] = set()
        i = 0
        while i < len(tokens):
            if tokens[i].capital and worth[i] > NONE:
                j = self._run_end(text, tokens, worth, i)
                for lo, hi in self._judge(text, tokens, worth, i, j, spelt, language):
                    if hi > j:
                        joined.add(j - 1)  # "Müller, Hans-Jürgen": one name across its comma
                    while (
                        lo > 0
                        and tokens[lo - 1].lower in PARTICLES
                        and text[tokens[lo - 1].end : tokens[lo].start] == " "
                    ):
                        lo -= 1  # "Lo Presti", "de Wit": the particle opens the surname
                    person[lo:hi] = [True] * (hi - lo)
                i = j
            else:
                if (run := self._lower_case(text, tokens, i, spelt)) is not None:
                    person[run[0] : run[1]] = [True] * (run[1] - run[0])
                    i = run[1]
                    continue
                i += 1
        self._mentions(text, tokens, worth, person)
        yield from self._spans(text, tokens, person, joined)
        yield from self._home_folders(text, tokens, person)

    def _run_end(self, text: str, tokens: list[Token], worth: list[int], i: int) -> int:
        """One past the last word of the run of name words from i: capitalised words joined by single spaces
        (or an initial's full stop), particles between them ("Willem de Wit", "María del Pilar Soto"), a
        nickname in brackets ("JOHANNES (HANS) VAN DIJK")."""
        j = i + 1
        while j < len(tokens):
            gap = text[tokens[j - 1].end : tokens[j].start]
            token = tokens[j]
            if (
                gap == " ("
                and worth[j] in (GIVEN, WORD_GIVEN)
                and text.startswith(") ", token.end)
                and j + 1 < len(tokens)
                and tokens[j + 1].capital
            ):
                j += 1  # a nickname in brackets, and the name goes on: "JOHANNES (HANS) VAN DIJK"
                continue
            if (
                gap == ") "
                and text[tokens[j - 1].start - 2 : tokens[j - 1].start] == " ("
                and j >= 2
                and (text[tokens[j - 2].end : tokens[j - 1].start] == " (")
            ):
                j += 1
                continue
            if gap not in (" ", ". ") or (gap == ". " and not tokens[j - 1].initial):
                break
            if token.capital and worth[j] > NONE:
                j += 1
            elif token.lower in PARTICLES and j + 1 < len(tokens) and self._after_particle(tokens[j + 1]):
                j += 2 if text[token.end : tokens[j + 1].start] == " " else 1
            elif (
                token.lower in PARTICLES
                and j + 2 < len(tokens)
                and tokens[j + 1].lower in PARTICLES
                and self._after_particle(tokens[j + 2])
            ):
                j += 3  # "van der Voet", "de la Cruz": after its particles, a surname whatever the word
            else:
                break
        return j

    @staticmethod
    def _after_particle(token: Token) -> bool:
        return token.capital and token.bare not in _CUE_WORDS and not token.camel

    def _judge(
        self, text: str, tokens: list[Token], worth: list[int], i: int, j: int, spelt: _Spelt, language: _Language
    ) -> Iterator[tuple[int, int]]:
        """The person spans, as token ranges, in the run tokens[i:j]."""
        first, last = tokens[i], tokens[j - 1]
        if i > 0 and tokens[i - 1].lower in _SAINTS and text[tokens[i - 1].end : first.start] in (" ", ". ", "-"):
            return  # "St James's", "San Sebastián": a church, a town, a street
        if self._company(text, tokens, j) or (i > 0 and tokens[i - 1].bare in COMPANY_CUES):
            return  # "Bakkerij Van Houten B.V.", "Brooks Macdonald Group plc": a company, named for someone or not
        capitals = [k for k in range(i, j) if tokens[k].capital]
        best = max(worth[k] for k in capitals)
        names = sum(1 for k in capitals if worth[k] >= SURNAME)
        # A surname, a comma, a given name: "Müller, Hans-Jürgen", "Brandt, Klaus".
        if (
            j - i == 1
            and worth[i] in (SURNAME, UNKNOWN)
            and j + 1 < len(tokens)
            and text[last.end : tokens[j].start] == ", "
            and worth[j] in (GIVEN, WORD_GIVEN)
            and tokens[j].capital
            and (
                j + 2 >= len(tokens) or not (tokens[j + 1].capital and text[tokens[j].end : tokens[j + 1].start] == " ")
            )
        ):
            yield i, j + 1
            return
        if self._cued(text, tokens, worth, i, j, best, spelt):
            yield i, j
            return
        if (found := self._unlisted(tokens, worth, capitals, language)) is not None:
            yield found
            return
        start = next((k for k in capitals if worth[k] >= WORD_GIVEN or tokens[k].initial), None)
        if start is None:
            return
        rest = [k for k in capitals if k > start]
        if rest:
            end = rest[-1]
            if self._technology(tokens[start]) and (
                not self._surname(tokens[end].bare)
                or self._technology(tokens[end])
                or self._software(tokens, start, end)
            ):
                return  # "Julia Frank" is someone, "Hugo Docs" or "Spring Boot" is software
            givens = [k for k in capitals if k >= start and worth[k] == GIVEN]
            if tokens[start].initial and not givens and worth[end] != SURNAME and start != capitals[0]:
                return  # "Haus C. Bitte": a word, an initial and a word no list knows, where "J. Whitcombe" is a name
            if self._wordy(tokens[start]) and not givens and self._wordy(tokens[end]) and names < 3:
                return  # "Will Price", "Rose Garden": two words that are names only where something says so
            if self._wordy(tokens[start]) and start > 0 and tokens[start - 1].bare in _DETERMINERS:
                return  # "our Summer Sale", "the Grant Thornton audit": a thing's name
            yield start, end + 1
            return
        # One word alone: a given name that is no everyday word, not in capitals ("ALTA" in a heading), no
        # software's name ("Julia", "Hugo").
        if (
            worth[start] == GIVEN
            and not tokens[start].upper
            and best == GIVEN
            and not tokens[start].initial
            and not self._technology(tokens[start])
            and tokens[start].bare not in self._words.lexicon.large_places  # "Valencia", "Florence", "Austin"
        ):
            yield start, start + 1

    @staticmethod
    def _technology(token: Token) -> bool:
        return known_terms.technology(token.bare)

    @staticmethod
    def _software(tokens: list[Token], start: int, end: int) -> bool:
        """ "Spring Boot", "Power BI": a product's name of several words."""
        return " ".join(t.bare for t in tokens[start : end + 1]) in known_terms.PRODUCTS

    def _wordy(self, token: Token) -> bool:
        return token.bare in self._words.word_names

    @staticmethod
    def _company(text: str, tokens: list[Token], j: int) -> bool:
        """Whether the capitalised words after a run end in a legal form or an organisation's word: the run is
        then the start of a company's name ("Eaton Vance ... Income Fund", "Banco Products (India) Ltd")."""
        k, end = j, tokens[j - 1].end
        while k < len(tokens) and k - j < 6 and text[end : tokens[k].start] in (" ", ", ", " (", ") ", " & ", "&"):
            word = tokens[k].bare
            if word in LEGAL_SUFFIXES or word in ORG_ENDINGS:
                return True
            if not tokens[k].capital:
                return False
            end = tokens[k].end
            k += 1
        return False

    def _unlisted(
        self, tokens: list[Token], worth: list[int], capitals: list[int], language: _Language
    ) -> tuple[int, int] | None:
        """Two words no given-name list knows the first of (an initial may stand between them): a name when the
        second has a surname's ending ("Inessa Samoylova"), when the first is spelt with letters English does not
        use and the second is a surname ("Thaís Correia"), or, in English text or text with no cue word of any
        language, when neither is an English word, a city, a known term or a firm ("Arbi Vizirov", "Kisuke
        Sugita"). German nouns are capitalised and unknown too ("Tage Urlaub", "Konferenzraum Berlin"): in German,
        French or any other text an unknown word before a surname is no evidence by itself."""
        if len(capitals) == 3 and tokens[capitals[1]].initial:
            capitals = [capitals[0], capitals[2]]  # "Katrine P. Knudsen", "Agust M Svensson"
        if len(capitals) != 2 or tokens[capitals[0]].initial:
            return None
        first, last = tokens[capitals[0]], tokens[capitals[1]]
        if first.upper or last.upper or self._technology(first) or self._technology(last) or self._wordy(last):
            return None
        before, after = worth[capitals[0]], worth[capitals[1]]
        if before == UNKNOWN and (_SURNAME_SHAPE.search(last.bare) or (first.foreign and after == SURNAME)):
            return capitals[0], capitals[1] + 1
        # The Census surname list knows many given names of other countries ("Rinaldo", "Stanko", "Santino").
        # Without a cue word the text may be a German or Dutch heading ("Dienstplan Notaufnahme"): its nouns are
        # long or end as nouns do, names seldom.
        if (
            before in (UNKNOWN, SURNAME)
            and after in (UNKNOWN, SURNAME)
            and self._foreign_pair(first, last)
            and (language.english or (language.unknown and not (_noun(first.bare) or _noun(last.bare))))
        ):
            return capitals[0], capitals[1] + 1
        return None

    def _foreign_pair(self, first: Token, last: Token) -> bool:
        """Whether two capitalised words are a name English text borrowed: letters only, neither an English
        word, an eponym or a city of 100,000 people, and together no product, firm or place ("Grafana Loki",
        "Goldman Sachs", "Buenos Aires")."""
        lexicon = self._words.lexicon
        for token in (first, last):
            word = token.bare
            if len(word) < 2 or not word.isalpha() or lexicon.ordinary(word) or word in known_terms.EPONYMS:
                return False
            if fold(word) in lexicon.large_places:
                return False  # a city's name ("Lisboa Centro"); a small town's is as often a surname ("Kasai")
        pair = fold(f"{first.bare} {last.bare}")
        return pair not in known_terms.PRODUCTS and pair not in known_terms.FIRMS and pair not in lexicon.places

    def _cued(self, text: str, tokens: list[Token], worth: list[int], i: int, j: int, best: int, spelt: _Spelt) -> bool:
        """Whether the words around the run say it names a person."""
        first, last = tokens[i], tokens[j - 1]
        if any(tokens[k].bare in TEAM_WORDS for k in range(i, j)):
            return False
        k = i
        while k > 0 and tokens[k - 1].lower in PARTICLES and text[tokens[k - 1].end : tokens[k].start] == " ":
            k -= 1  # "Dott. Lo Presti", "dhr. van Dijk"
        if self._titled(text, tokens, k):
            return True
        named = best >= SURNAME  # a list knows one of the words
        if all(self._technology(tokens[k]) for k in range(i, j) if tokens[k].capital):
            return False  # "Kafka says", "Hi Claude": software, whatever the words around
        if i > 0:
            prev = tokens[i - 1]
            gap = text[prev.end : first.start]
            mark = gap.strip()
            if (
                prev.bare in ROLES
                and (mark in ("", ":", ",") or (mark in (".", ".:") and len(prev.lower) <= 4))  # "Pat.: Müller"
                and (named or best == UNKNOWN)
            ):
                return True
            if prev.bare in GREETINGS and gap in (" ", ", ") and named:
                return True
            if (
                prev.bare in HEADER_LABELS
                and gap in (": ", ":", " : ")
                and named
                and (prev.start == 0 or text[prev.start - 1] in "\n>\t ")
            ):
                return True
        if (
            i > 0
            and tokens[i - 1].bare in NAME_CUES
            and text[tokens[i - 1].end : first.start].strip() in (":", "?", "-")
        ):
            return True  # "Name:    Cleofe Y Mateo", "your last name? Pinto"
        after = text[last.end : last.end + 3]
        if named and after.startswith((" <", "<")) and "@" in text[last.end : last.end + 80]:
            return True  # "Sabine Vogel <sabine.vogel@t-online.de>"
        # A word no list knows before such a verb only without an article or a team before it: "Okonjo wrote",
        # not "die Anwendung meldet", "Equipo de Desarrollo escribió".
        unlisted_subject = best == UNKNOWN and not (
            k > 0 and (tokens[k - 1].bare in FUNCTION_WORDS or tokens[k - 1].bare in TEAM_WORDS)
        )
        if (
            (named or unlisted_subject)
            and j < len(tokens)
            and tokens[j].lower in PERSON_VERBS
            and text[last.end : tokens[j].start] == " "
        ):
            return True  # "Mark Ellison wrote", "Sigríður asked"
        # A surname an e-mail address in the text spells: "Herr Becker ... t.becker@", "Wilk ... b.wilk@".
        return named and any(len(tokens[k].bare) >= 4 and tokens[k].bare in spelt for k in range(i, j))

    @staticmethod
    def _titled(text: str, tokens: list[Token], k: int) -> bool:
        """Whether a title stands right before token k: "Mrs", "Herrn", "Dr. med.", "dott.ssa", "M." (capitalised
        and dotted only: "m" is a metre)."""
        p = k - 1
        while p > 0 and tokens[p].lower in _DEGREES and text[tokens[p].end : tokens[p].end + 1] == ".":
            p -= 1
        if p < 0 or text[tokens[p].end : tokens[p + 1].start].strip(" .") != "":
            return False  # "300 ms; Jekyll": a title is followed by its name, nothing else between
        word = tokens[p].lower
        if word == "ms" and text[tokens[p].start] == "m":
            return False  # milliseconds
        if word in _TITLE_ENDINGS:
            return p > 0 and tokens[p - 1].lower == _TITLE_ENDINGS[word] and tokens[p - 1].end + 1 == tokens[p].start
        if word == "m" or word == "me":
            return (
                text[tokens[p].start] == "M"
                and text[tokens[p].start + len(word) : tokens[p].start + len(word) + 1] == "."
            )
        return word in TITLES and len(word) > 1

    def _lower_case(self, text: str, tokens: list[Token], i: int, spelt: _Spelt) -> tuple[int, int] | None:
        """A name typed in lower case from token i, as a token range, or None."""
        token = tokens[i]
        if token.capital:
            return None
        word = token.lower
        dotted = len(word) == 1 and text[token.end : token.end + 1] == "."
        if not dotted and (word in CALENDAR or not (self._given(word) or word in self._words.lexicon.given_names)):
            return None
        if word in FUNCTION_WORDS and word not in spelt:
            return None  # "will" is a name where an address spells it: "will hughes ... willhughes1990@"
        # The words of the name: given names or initials, particles, and the surname last. The name ends at the
        # first word a surname list knows ("luca bianchi alle 18"), or after the first word that is no given name.
        j = i + 1
        while j < len(tokens) and j - i < 5:
            gap = text[tokens[j - 1].end : tokens[j].start]
            nxt = tokens[j]
            if nxt.capital or gap not in (" ", ". "):
                break
            if gap == ". " and len(tokens[j - 1].lower) != 1:
                break
            initial = len(nxt.lower) == 1 and text[nxt.end : nxt.end + 1] == "."
            if nxt.lower in FUNCTION_WORDS and nxt.lower not in PARTICLES and not initial:
                break
            j += 1
            if nxt.lower in PARTICLES or initial:
                continue
            # A given name goes on to a surname after it ("rose marie dubois"); any other word ends the name.
            if not self._given(nxt.lower) or not (j < len(tokens) and self._surname(tokens[j].lower)):
                break
        while j > i + 1 and tokens[j - 1].lower in PARTICLES:
            j -= 1
        if j == i + 1:
            return None
        surname = tokens[j - 1]
        family = surname.lower
        if family in CALENDAR or len(family) < 2 or known_terms.technology(family):
            return None
        given = [t.lower for t in tokens[i : j - 1] if t.lower not in PARTICLES]
        letters = re.sub(r"[^a-z]", "", family)
        echoed = len(letters) >= 3 and letters in spelt and (given[0] in spelt or given[0][0] + letters in spelt)
        cued = bool(_LOWER_CUE.search(text, max(0, token.start - 32), token.start)) or any(
            tokens[k].bare in ROLES or tokens[k].bare in NAME_CUES for k in range(max(0, i - 3), i)
        )
        said = any(tokens[k].lower in PERSON_VERBS for k in range(j, min(len(tokens), j + 4)))
        if dotted or any(len(g) == 1 for g in given):
            return (i, j) if cued else None
        if echoed:
            return i, j
        # Otherwise the given name must be a common one: the Census lists' rare names are words too ("versie").
        common = given[0] in self._words.common_given or given[0] in self._words.inflected or "-" in given[0]
        plain = (
            given[0] not in self._words.word_names
            and not self._words.lexicon.ordinary(given[0])
            and self._surname(family)
            and not self._words.lexicon.ordinary(family)
        )
        return (i, j) if common and (cued or said or plain) else None

    def _mentions(self, text: str, tokens: list[Token], worth: list[int], person: list[bool]) -> None:
        """The same names again, where nothing else said so: "Frau Vogel" after "Sabine Vogel"; in lower case
        only before a person's verb ("hope said she's sleeping better")."""
        names = {t.bare for k, t in enumerate(tokens) if person[k] and len(t.bare) >= 3 and worth[k] > NONE}
        names |= {t.bare for k, t in enumerate(tokens) if person[k] and not t.capital and len(t.bare) >= 3}
        names -= FUNCTION_WORDS | CALENDAR
        if not names:
            return
        for k, t in enumerate(tokens):
            if person[k] or t.bare not in names:
                continue
            if (t.capital and worth[k] > NONE) or (
                not t.capital and k + 1 < len(tokens) and tokens[k + 1].lower in PERSON_VERBS
            ):
                person[k] = True

    @staticmethod
    def _spans(text: str, tokens: list[Token], person: list[bool], joined: set[int]) -> Iterator[Span]:
        """Runs of person tokens as spans (a name's words joined by spaces, particles, initials, brackets; and
        the comma of "Surname, Given", the tokens in ``joined`` running on to the next)."""
        k = 0
        while k < len(tokens):
            if not person[k]:
                k += 1
                continue
            m = k + 1
            while (
                m < len(tokens)
                and person[m]
                and (
                    text[tokens[m - 1].end : tokens[m].start] in (" ", " (", ") ")
                    or (text[tokens[m - 1].end : tokens[m].start] == ". " and len(tokens[m - 1].lower) == 1)
                    or m - 1 in joined
                )
            ):
                m += 1
            while (
                m < len(tokens) and tokens[m].bare in POST_NOMINALS and text[tokens[m - 1].end : tokens[m].start] == " "
            ):
                m += 1  # "Luiz Sousa MD", "Frank Ocean Jr"
            end = tokens[m - 1].end
            if text[end - 1 : end] == "." and not tokens[m - 1].initial:
                end -= 1
            yield "PERSON", tokens[k].start, end
            k = m

    def _home_folders(self, text: str, tokens: list[Token], person: list[bool]) -> Iterator[Span]:
        """A home folder named for its owner: "C:\\Users\\jschubert" beside "Jana Schubert", or an initial and a
        surname the lists know ("mkowalski")."""
        if "Users" not in text and "/home/" not in text:
            return
        found = {t.bare for k, t in enumerate(tokens) if person[k] and len(t.bare) >= 4}
        for m in _HOME.finditer(text):
            letters = re.sub(r"[^a-z]", "", fold(m.group(1)).lower())
            # Each name found is looked up among the folder's pieces, not the pieces among the names.
            pieces = {letters[a:b] for a in range(len(letters)) for b in range(a + 4, len(letters) + 1)}
            if pieces & found or (len(letters) >= 6 and self._surname(letters[1:])):
                yield "PERSON", m.start(1), m.end(1)
