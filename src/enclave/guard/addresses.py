"""Street addresses: a street (number + name + street type, in the common European and American forms) or a
unit (apartment, suite, post-office box) anchors the address, which then extends over the lines that follow it
(unit, town, state, postcode, country) and the house number before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Street types as written in English and the languages of Europe and Latin America (USPS Pub. 28 abbreviations
# for the American ones).
_STREET_TYPES = (
    r"street|st|avenue|ave|av|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|place|pl|parkways?|pkwy"
    r"|terrace|ter|circle|cir|highway|hwy|square|sq|crescent|cres|close|row|mews|alley|trail|trl|loop|plaza"
    r"|gardens|grove|hill|park|walk|wharf|quay|expressway|freeway|turnpike|pike|route|rte"
)
_GLUED_TYPES = (  # written as the end of the street's name: Plattenstrasse, Kapelaniestraat, Meierijlaan
    r"stra(?:ss|ß)e|str\.|weg|laan|straat|gasse|platz|allee|ring|damm|vej|gade|gatan|vägen|veien|väg|katu|tie"
)
_LEADING_TYPES = (  # written before the name: Rue de Libya, Avenida Noruega, Via Roma, C/ Canarias
    r"c/|rue|rua|via|viale|calle|avenida|avenue|av\.|avda\.?|carrer|piazza|plaza|praça|largo|ulica|ul\.|rruga|strada|calea"
    r"|boulevard|bd\.?|chemin|allée|place|travessa|camino|paseo|odos|οδός"
)
_TRAILING_WORDS = r"utca|út|tér|rakpart|körút|sor|köz|ulica|náměstí|námestie|cesta|iela|gatvė|tänav"
_NAME = r"[^\W\d_][\w'’.-]*"
_NUMBER = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,5})?"
_CORNER_STREET = r"(?:\d[\w/-]*\s+)?[^\W\d_][\w'’.-]*(?:\s+(?:\d[\w/-]*|[^\W\d_][\w'’.-]*)){0,4}?"
_UNIT = r"(?:apt\.?|apartment|suite|ste\.?|unit|flat|p\.?\s?o\.?\s?box|box|psc|dpo|fpo|apo)\s*#?\s*\d{1,6}[A-Za-z]?"

_ANCHOR = re.compile(
    # "the corner of 5th Avenue and Main Street": two streets, each a few words or numbers (first: the street
    # forms below would otherwise start inside it)
    rf"(?P<corner>\b(?:the\s+)?corner\s+of\s+(?P<one>{_CORNER_STREET})\s+and\s+(?P<two>{_CORNER_STREET}))|"
    # 221 Baker Street; a number after it on the same line is the house's ("Wolmarans St 12"), on the next a phone's
    rf"\b{_NUMBER}\s+(?:{_NAME}\s+){{0,4}}?(?:{_STREET_TYPES})\b\.?(?:[ \t]+{_NUMBER}\b(?![-.]\d))?"
    rf"|(?P<glued>\b(?:{_NAME}\s+){{0,3}}?[^\W\d_]*(?:{_GLUED_TYPES})\s+{_NUMBER}\b)"  # Linzer Strasse 69
    rf"|(?<![\w-])(?:{_LEADING_TYPES})\s+(?:{_NAME}\s+){{0,4}}?(?:{_NAME}|{_NUMBER})(?:\s+{_NUMBER})?\b"  # Rue X 3
    rf"|\b(?:{_NAME}\s+){{1,3}}(?:{_TRAILING_WORDS})\s+{_NUMBER}\b\.?"  # Síp utca 71.
    # 213 Meierijlaan 176, at the end of its line or before the unit
    rf"|\b{_NUMBER}\s+(?:{_NAME}\s+){{0,3}}?{_NAME}\s+{_NUMBER}\b(?=\s*(?:\n|\\n|,|$|(?:apt|suite|unit|ste)\b))"
    rf"|\b{_UNIT}\b"
    # American military mail: "USNS Duncan, FPO AP 36724", "Unit 9359 Box 4025, DPO AP 22650" (USPS Pub. 28)
    rf"|(?:\b(?:USNS|USNV|USCGC|USS)\s+{_NAME}(?:[ \t]*(?:\n|\\n|,)[ \t]*|\s+))?\b[AFD]PO\s+A[AEP]\s+\d{{5}}\b",
    re.IGNORECASE,
)
# What may follow an address, word by word on its line or after a line break or comma: unit, town, state code,
# postcode, country. A line may open with a quoting or list mark ("> ", "- ", "• ") that is not part of it.
_NEXT = re.compile(rf"(?:[ \t]*(?:\n|\\n)[ \t]*(?:[^\w\s\"'“‘(]{{1,3}}[ \t]*)?|[ \t]*,[ \t]*|[ \t]+)"
                   rf"(?P<piece>{_UNIT}|[\w'’.()-]+)", re.IGNORECASE)
_JOINERS = frozenset({"de", "des", "la", "le", "les", "del", "da", "di", "du", "do", "dos", "van", "von", "der", "y",
                      "e", "nad", "pri", "na", "sur", "am", "an", "im", "bei"})
# Words that announce an address, whatever form the street takes: "address: Gewerbezentrum 19", "sent to ...",
# "lives on the north side of Dobrovského 30".
_CUE = re.compile(
    rf"(?i:\baddress(?: is)?\s*:?|\blives? (?:at|on)(?: the \w+ (?:side|end) of)?|\bis (?:at|on)|\blocated (?:at|on)"
    rf"|\bsent to|\bship(?:ped)? to|\bdeliver(?:ed)? to|\bmeet me at|\bstop at)"
    rf"\s+(?P<address>(?:[^\W\d_][\w'’.-]*[ \t]+){{1,4}}{_NUMBER}\b)"
)
_HOUSE_NUMBER = re.compile(rf"(?:\b{_NUMBER}|{_UNIT})[ \t]*(?:\n|\\n|,)?[ \t]*$", re.IGNORECASE)


class StreetAddress:
    """ADDRESS spans: an anchor, widened over the town/state/postcode/country lines around it."""

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        end_of_last = 0
        anchors = [(self._capitalised_start(m) if m["glued"] else m.start(), m.end()) for m in _ANCHOR.finditer(text)
                   if not m["corner"] or self._streets(m["one"], m["two"])]
        anchors += [(m.start("address"), m.end("address")) for m in _CUE.finditer(text) if m["address"][0].isupper()]
        for start, end in sorted(anchors):
            if start < end_of_last:
                continue
            if text[end - 1] == "." and len(text[start:end - 1].rsplit(maxsplit=1)[-1]) > 4:
                end -= 1  # "Baker Street." ends a sentence; "St." keeps its abbreviation's full stop
            for _ in range(2):  # a house number, and a postcode or building number before it: "09221 86 rue X"
                if (before := _HOUSE_NUMBER.search(text, max(end_of_last, start - 14), start)) is None:
                    break
                start = before.start()
            end = self._widen(text, end)
            end_of_last = end
            yield "ADDRESS", start, end

    @staticmethod
    def _streets(*names: str) -> bool:
        """"the corner of Elm and Main" names streets; "the corner of the table and the wall" does not."""
        return all(name[0].isupper() or name[0].isdigit() for name in names)

    @staticmethod
    def _capitalised_start(m: re.Match[str]) -> int:
        """"the north side of Linzer Strasse 69" starts at "Linzer": the street's name is capitalised."""
        words = list(re.finditer(r"\S+", m.group()))
        first = next((w for w in words if w.group()[0].isupper()), words[-2] if len(words) > 1 else words[0])
        return m.start() + first.start()

    @staticmethod
    def _widen(text: str, end: int) -> int:
        """Past the town, state, postcode and country after an address; prose after it starts in lower case."""
        for _ in range(12):
            m = _NEXT.match(text, end)
            if m is None:
                break
            piece = m["piece"]
            if text[end - 1:end] == "." and "\n" not in m.group() and "," not in m.group():
                break  # "... Baker Street. Sign it": a new sentence, not the town
            digits = sum(c.isdigit() for c in piece)
            if digits > 6:
                break  # a card or phone number, not a postcode
            if not (piece[0].isupper() or piece[0].isdigit()):
                after = _NEXT.match(text, m.end())
                if piece.lower() not in _JOINERS or after is None or not after["piece"][0].isupper():
                    break
            end = m.end() - piece.endswith(".")  # a full stop ends the sentence, not the postcode
        return end
