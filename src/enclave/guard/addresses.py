"""Street addresses: a street (number + name + street type, in the common European and American forms) or a
unit (apartment, suite, post-office box) anchors the address, which then extends over the lines that follow it
(unit, town, state, postcode, country) and the house number before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from enclave.guard.date_forms import MONTHS
from enclave.guard.lexicon import Lexicon

# Street types as written in English and the languages of Europe and Latin America (USPS Pub. 28 abbreviations
# for the American ones).
_STREET_TYPES = (
    r"street|st|avenue|ave|av|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|place|pl|parkways?|pkwy"
    r"|terrace|ter|circle|cir|highway|hwy|square|sq|crescent|cres|close|row|mews|alley|trail|trl|loop|plaza"
    r"|gardens|grove|hill|park|walk|wharf|quay|expressway|freeway|turnpike|pike|route|rte|parade"
)
_GLUED_TYPES = (  # written as the end of the street's name: Plattenstrasse, Kapelaniestraat, Meierijlaan
    r"stra(?:ss|ß)e|str\.|weg|laan|straat|gracht|kade|singel|plein|dreef|steeg|gasse|platz|allee|ring|damm|vej|gade"
    r"|gatan|vägen|veien|väg|katu|tie"
)
_LEADING_TYPES = (  # written before the name: Rue de Libya 3, Avenida Noruega, Via Roma, C/ Canarias
    r"c/|rue|rua|via|viale|calle|avenida|avenue|av\.|avda\.?|carrer|piazza|plaza|praça|largo|ulica|ul\.|rruga|strada|calea"
    r"|boulevard|bd\.?|chemin|allée|place|travessa|camino|paseo|odos|οδός"
)
_TRAILING_WORDS = r"utca|u\.|út|tér|rakpart|körút|krt\.|sor|köz|ulica|náměstí|námestie|cesta|iela|gatvė|tänav"
_NAME = r"[^\W\d_][\w'’.-]*"
_NUMBER = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,5})?"
_CORNER_STREET = r"(?:\d[\w/-]*\s+){0,2}[^\W\d_][\w'’.-]*(?:\s+(?:\d[\w/-]*|[^\W\d_][\w'’.-]*)){0,6}?"
# Possessive spaces (\s*+) around the optional "#": a long run of spaces is not split between two runs every way.
_UNIT = (
    r"(?:apt\.?|apartment|suite|ste\.?|unit|flat|p\.?\s?o\.?\s?box|box|psc|dpo|fpo|apo)"
    r"\s*+(?:#\s*+)?\d{1,6}[A-Za-z]?"
)

# The floor or flat after a house number: "2. OG links", "m. 16" (Polish "mieszkanie").
_FLAT = r"\d{1,2}\.\s?(?:og|stock|etage)(?:\s+(?:links|rechts|mitte))?|m\.\s?\d{1,4}"

_ANCHOR = re.compile(
    # "the corner of 5th Avenue and Main Street": two streets, each a few words or numbers (first: the street
    # forms below would otherwise start inside it)
    rf"(?P<corner>\b(?:the\s+)?corner\s+of\s+(?P<one>{_CORNER_STREET})\s+and\s+(?P<two>{_CORNER_STREET}))|"
    # 221 Baker Street; a number after it on the same line is the house's ("Wolmarans St 12"), on the next a phone's
    # (not the end of a date, "03/02/2024 to St. Mary's", nor a number before a preposition, "50 to St. Jude")
    rf"(?<![/.:-])\b{_NUMBER}\s+(?!(?:to|at|in|on|from|by|for|of|and|or|the|a)\s)(?:{_NAME}\s+){{0,4}}?"
    rf"(?:{_STREET_TYPES})\b\.?(?:[ \t]+{_NUMBER}\b(?![-.]\d))?"
    rf"|(?P<leading>(?<![\w-])(?:{_LEADING_TYPES})\s+(?:{_NAME}\s+){{0,4}}?(?:{_NAME}|{_NUMBER})(?:\s+{_NUMBER})?\b)"
    # 213 Meierijlaan 176, at the end of its line or before the unit
    rf"|\b{_NUMBER}\s+(?:{_NAME}\s+){{0,3}}?{_NAME}\s+{_NUMBER}\b(?=\s*(?:\n|\\n|,|$|(?:apt|suite|unit|ste)\b))"
    rf"|\b{_UNIT}\b"
    # Where two streets meet, the second with its house number: "Caleb and Askelund 90", "Hana and R Capela 83"
    # (a first street of at most 60 characters: every capital after a hyphen or apostrophe inside one long word
    # would otherwise read on to the word's end again)
    rf"|(?P<cross>(?-i:\b[A-Z][\w'’-]{{1,60}} and (?P<second>(?:[A-Z][\w'’.-]* ){{1,3}}))"
    rf"\d{{1,4}}[A-Za-z]?\b(?![.,/:-]?\d))"
    # American military mail: "USNS Duncan, FPO AP 36724", "Unit 9359 Box 4025, DPO AP 22650" (USPS Pub. 28)
    rf"|(?:\b(?:USNS|USNV|USCGC|USS)\s+{_NAME}(?:[ \t]*(?:\n|\\n|,)[ \t]*|\s+))?\b[AFD]PO\s+A[AEP]\s+\d{{5}}\b",
    re.IGNORECASE,
)
# Street types written after the name, found by themselves and the street's words then read back from them: a
# pattern that starts with the words would try them at every word of every text.
_GLUED = re.compile(rf"(?:{_GLUED_TYPES})\s+{_NUMBER}\b", re.IGNORECASE)  # Linzer Strasse 69
_TRAILING = re.compile(rf"(?<=\s)(?:{_TRAILING_WORDS})\s+{_NUMBER}\b\.?", re.IGNORECASE)  # Síp utca 71.
_NAMES_BEFORE = re.compile(rf"(?<!\S)(?:{_NAME}[ \t]+){{1,3}}$")
_WORD_BEFORE = re.compile(r"[^\W\d_]+$")
# What may follow an address, word by word on its line or after a line break or comma: unit, town, state code,
# postcode, country. A line may open with a quoting or list mark ("> ", "- ", "• ") that is not part of it.
_NEXT = re.compile(
    rf"(?:[ \t]*(?:\n|\\n)[ \t]*(?:[^\w\s\"'“‘(]{{1,3}}[ \t]*)?|[ \t]*,[ \t]*|[ \t]+)"
    rf"(?P<piece>{_UNIT}|{_FLAT}|[\w'’.()-]+)",
    re.IGNORECASE,
)
_JOINERS = frozenset(
    {
        "de",
        "des",
        "la",
        "le",
        "les",
        "del",
        "da",
        "di",
        "du",
        "do",
        "dos",
        "van",
        "von",
        "der",
        "y",
        "e",
        "nad",
        "pri",
        "na",
        "sur",
        "am",
        "an",
        "im",
        "bei",
    }
)
# Words that announce an address, whatever form the street takes: "address: Gewerbezentrum 19", "sent to ...",
# "lives on the north side of Dobrovského 30".
_CUE = re.compile(
    rf"(?i:\baddress(?: is)?(?:\s*:)?|\blives? (?:at|on)(?: the \w+ (?:side|end) of)?|\bis (?:at|on)"
    rf"|\blocated (?:at|on)|\bsent to|\bship(?:ped)? to|\bdeliver(?:ed)? to|\bmeet me at|\bstop at)"
    rf"\s+(?P<address>(?:[^\W\d_][\w'’.-]*[ \t]+){{1,4}}{_NUMBER}\b)"
)
_LEADING = re.compile(rf"(?:{_LEADING_TYPES})\s", re.IGNORECASE)
_FLAT_PIECE = re.compile(_FLAT, re.IGNORECASE)
# A British postcode, which closes an address: "CF10 3AT", "G63 0JQ", "SW1A 1AA".
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b")
# A date ("14 June 2025, 06:00") or a decimal's digits ("0,74 naar 0,79") where a house number would stand.
_NOT_A_STREET = re.compile(rf"(?i:\d{{1,2}}\.?\s(?:de\s)?(?:{MONTHS})\b)|(?<=\d[,.])\d")
_HOUSE_NUMBER = re.compile(rf"(?:\b{_NUMBER}|{_UNIT})[ \t]*(?:\n|\\n|,)?[ \t]*$", re.IGNORECASE)
_NUMBER_AFTER = re.compile(rf"(?:\s+{_NAME}){{0,2}}\s+\d")
# Quoting and list marks that open a line of a block ("}} ", "> ", "• "), and the spaces after them.
_MARKS = "}>?*•-– \t"
# The first street of an intersection, before the second: "Jamie and 42 Spilman Street".
_CROSS_STREET = re.compile(r"\b[A-Z][\w'’-]* and $")
# A line that starts with a house number: the street line above a unit ("54215 113 Ane Habib Bourguiba").
_STREET_LINE = re.compile(
    r"(?m)^[^\w\n]{0,3}[ \t]*\d{1,6}[A-Za-z]?(?:[ \t]+\d{1,6}[A-Za-z]?)?[ \t]+[^\W\d_][^\n]*"
    r"\n[^\w\n]{0,3}[ \t]*$"
)
# What no line of an address holds: a label's colon, an e-mail's @, a date's slashes.
_NOT_ADDRESS_LINE = re.compile(r"\w:|@|\d/\d+/\d")
# After a blank line, a country and its postcode close an address block: "\n\n Czech Republic 14683".
_COUNTRY_LINE = re.compile(r"[ \t]*\n[ \t]*\n[ \t]*(?:[A-Z][\w'’.()-]*[ \t]+){1,3}\d{3,6}\b")


class StreetAddress:
    """ADDRESS spans: an anchor, widened over the town/state/postcode/country lines around it."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon  # ordinary English: "During 1996" ends in "ring" and is no street

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        anchors = [
            (m.start(), m.end())
            for m in _ANCHOR.finditer(text)
            if _NOT_A_STREET.match(text, m.start()) is None
            and (not m["corner"] or self._streets(m["one"], m["two"]))
            and (not m["cross"] or self._street_name(m["second"]))
            # "a place of its own": in lower case and without a number, "place", "via" are English
            and not (m["leading"] and m.group()[0].islower() and not self._numbered(text, m))
        ]
        anchors += [anchor for m in _GLUED.finditer(text) if (anchor := self._glued(text, m)) is not None]
        anchors += [
            (before.start(), m.end())
            for m in _TRAILING.finditer(text)
            if (before := _NAMES_BEFORE.search(text, max(0, m.start() - 80), m.start())) is not None
        ]
        anchors += [(m.start("address"), m.end("address")) for m in _CUE.finditer(text) if m["address"][0].isupper()]
        anchors += [(self._before_postcode(text, m.start()), m.end()) for m in _UK_POSTCODE.finditer(text)]
        spans: list[tuple[int, int]] = []
        for start, end in sorted(anchors):
            if text[end - 1] == "." and len(text[start : end - 1].rsplit(maxsplit=1)[-1]) > 4:
                end -= 1  # "Baker Street." ends a sentence; "St." keeps its abbreviation's full stop
            if spans and start < spans[-1][1]:
                if end > spans[-1][1]:  # "Apt. 563 4376 ul. Praussa 29": two anchors, one address
                    spans[-1] = (spans[-1][0], self._widen(text, end))
                continue
            spans.append((self._extend_back(text, start, spans[-1][1] if spans else 0), self._widen(text, end)))
        for start, end in spans:
            yield "ADDRESS", start, end

    @staticmethod
    def _before_postcode(text: str, start: int) -> int:
        """Where the address that a British postcode closes begins: back over the town and up to three parts
        before it, each after a comma ("of 7 Harbour View, Falmouth, Cornwall TR11 2LN", "residing at Croft
        Cottage, Balmaha, Glasgow G63 0JQ"), to a part that opens with a house number or after a word in lower
        case ("of", "at")."""
        begin = start
        for _ in range(4):
            line = text.rfind("\n", max(0, begin - 60), begin) + 1
            comma = text.rfind(",", max(line, begin - 60), begin)
            part_start = comma + 1 if comma >= 0 else max(line, begin - 60)
            words = text[part_start:begin].split()
            kept = 0
            for word in reversed(words):
                if not (word[0].isupper() or word[0].isdigit()):
                    break
                kept += 1
            if kept == 0:
                break
            begin = text.index(words[-kept], part_start)
            if kept < len(words) or words[-kept][0].isdigit() or comma < 0:
                break
            begin = comma  # the whole part is the address's: read on before its comma
        while begin < start and not text[begin].isalnum():
            begin += 1
        return begin

    def _extend_back(self, text: str, start: int, floor: int) -> int:
        """The parts of an address written before its anchor."""
        for _ in range(2):  # a house number, and a postcode or building number before it: "09221 86 rue X"
            if (number := _HOUSE_NUMBER.search(text, max(floor, start - 14), start)) is None:
                break
            start = number.start()
        if (cross := _CROSS_STREET.search(text, max(floor, start - 40), start)) is not None:
            return cross.start()
        newline = text.rfind("\n", floor, start)
        line = newline + 1 if newline >= 0 else floor
        before = text[line:start]
        if not any(c.isalnum() for c in before):
            # At the start of its line, after a unit anchor: the street line above it is part of the address.
            if (street := _STREET_LINE.search(text, max(floor, line - 80), start)) is not None:
                return street.start() + len(street.group()) - len(street.group().lstrip(_MARKS))
            return start
        # A street's name before its house number at the start of a line ("Tavcarjeva 103"): a word no
        # dictionary lists, not a verb ("Visit 221 Baker Street").
        lead = before.lstrip(_MARKS)
        words = lead.split()
        if 1 <= len(words) <= 2 and all(
            w.isalpha() and w[0].isupper() and w.lower() not in self._lex.words for w in words
        ):
            return start - len(lead)
        return start

    @staticmethod
    def _numbered(text: str, m: re.Match[str]) -> bool:
        """A house number in the street or right around it: "rue X 3", "86 rue du Château", "ul. Kołodziejskiego
        Jerzego 31"."""
        return (
            any(c.isdigit() for c in m.group())
            or _NUMBER_AFTER.match(text, m.end()) is not None
            or _HOUSE_NUMBER.search(text, max(0, m.start() - 14), m.start()) is not None
        )

    def _street_name(self, words: str) -> bool:
        """ "Askelund", "R Capela": a street's name has a word that is neither English nor a given name, where
        "Rock and Roll 45" or "Romeo and Juliet 2" have none."""
        return any(
            len(w) > 1 and not self._lex.ordinary(w.lower()) and w.lower() not in self._lex.given_names
            for w in words.split()
        )

    @staticmethod
    def _streets(*names: str) -> bool:
        """ "the corner of Elm and Main" names streets; "the corner of the table and the wall" does not."""
        return all(name[0].isupper() or name[0].isdigit() or _LEADING.match(name) for name in names)

    def _glued(self, text: str, m: re.Match[str]) -> tuple[int, int] | None:
        """ "Plattenstrasse 69" read back from its ending. "During 1996" ends in "ring" but is an English word,
        no street; "the north side of Linzer Strasse 69" starts at "Linzer", the street's name being capitalised."""
        word = _WORD_BEFORE.search(text, max(0, m.start() - 40), m.start())
        start = word.start() if word is not None else m.start()
        if (text[start : m.start()] + m.group().split()[0]).lower() in self._lex.words:
            return None
        before = _NAMES_BEFORE.search(text, max(0, start - 80), start)
        if before is not None:
            capitalised = next((w for w in re.finditer(r"\S+", before.group()) if w.group()[0].isupper()), None)
            if capitalised is not None:
                return before.start() + capitalised.start(), m.end()
        return start, m.end()

    def _widen(self, text: str, end: int) -> int:
        """Past the town, state, postcode and country after an address; prose after it starts in lower case."""
        for _ in range(24):
            m = _NEXT.match(text, end)
            if m is None:
                break
            piece = m["piece"]
            if text[end - 1 : end] == "." and "\n" not in m.group() and "," not in m.group():
                break  # "... Baker Street. Sign it": a new sentence, not the town
            digits = sum(c.isdigit() for c in piece)
            if digits > 6:
                break  # a card or phone number, not a postcode
            if "\n" in m.group() and _NOT_ADDRESS_LINE.search(self._line(text, m.start("piece"))):
                break  # "DOB 5/25/1953", "Mobile: 631 331 197", "jane@example.com": the block goes on, not the address
            if (
                not (piece[0].isupper() or piece[0].isdigit() or piece[:2].istitle())
                and _FLAT_PIECE.fullmatch(piece) is None
                and not self._continued(text, m)
            ):
                break
            end = m.end() - piece.endswith(".")  # a full stop ends the sentence, not the postcode
        if (country := _COUNTRY_LINE.match(text, end)) is not None:
            end = country.end()
        return end

    @staticmethod
    def _line(text: str, start: int) -> str:
        """The first two words of the line that starts at start: what says what kind of line it is."""
        end = text.find("\n", start)
        return " ".join(text[start : end if end >= 0 else len(text)].split()[:2])

    @staticmethod
    def _continued(text: str, m: re.Match[str]) -> bool:
        """A word in lower case goes on an address when a line opens with a comma before it (", QC"), when it
        joins a name ("Porto do Mar"), or when a postcode follows it ("Łódź nan 94-203")."""
        if "\n" in m.group() and "," in m.group():
            return True
        after = _NEXT.match(text, m.end())
        if after is None:
            return False
        if m["piece"].lower() in _JOINERS and after["piece"][0].isupper():
            return True
        return re.fullmatch(r"\d{4,6}|\d{2,3}-\d{3,4}", after["piece"]) is not None
