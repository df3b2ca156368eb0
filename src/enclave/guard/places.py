"""Places: those a text ties to a person (``PersonalPlaces``), and, for the capitalisation tagger, the ones its
single words do not make: names of two or more ordinary words ("United Kingdom"), states
named for their people ("Czech Republic"), and the qualifier that tells a place from its namesake ("Cyprus
(Greek)").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from enclave.guard.lexicon import Lexicon, fold
from enclave.guard.name_words import FUNCTION_WORDS, NATIONALITIES, PLACE_CUES
from enclave.guard.person_cues import FUNCTION_WORDS as ANY_LANGUAGE_FUNCTION_WORDS
from enclave.guard.tokens import Token

# What a state named for its people is: "Czech Republic", "Russian Federation".
_STATES = frozenset({"republic", "federation", "kingdom", "islands", "emirates"})
# What tells a place from its namesake: "Cyprus (Greek)", "Congo (Kinshasa)".
_QUALIFIER = re.compile(r" \([A-Z][\w'’-]*(?: [A-Z][\w'’-]*)?\)")


def multi_word_place(lexicon: Lexicon, run: list[Token]) -> tuple[str, int, int] | None:
    """A run that is exactly a place of two or more ordinary words ("United Kingdom", "South Africa"), or a state
    named for its people ("Czech Republic"), after any function words ("In", "The")."""
    words = [t.lower for t in run]
    # Function words opening the run are not part of the place: "In Czech Republic", "To United Kingdom".
    k = 0
    while len(words) - k > 2 and (words[k] in FUNCTION_WORDS or words[k] in PLACE_CUES):
        k += 1
    count = len(words) - k
    if (2 <= count <= lexicon.longest_place and " ".join(words[k:]) in lexicon.places) or (
        count == 2 and words[k] in NATIONALITIES and words[k + 1] in _STATES
    ):
        return "LOCATION", run[k].start, run[-1].end
    return None


def qualified(text: str, span: tuple[str, int, int]) -> tuple[str, int, int]:
    """A place with the bracketed qualifier after it, if any."""
    kind, start, end = span
    if kind == "LOCATION" and (m := _QUALIFIER.match(text, end)) is not None:
        return kind, start, m.end()
    return span


# A place is personal data where the text ties it to someone: where they live, were born, grew up, are moving to
# or stay for treatment. What ties it stands before the place, with a few words between ("geboren am 03.02.1944
# in Kassel", "vit seule à Nantes", "ur. 27.02.1990 w Lublinie") and a preposition right before it.
_TIE = re.compile(
    r"(?i:(?<![^\W\d_])(?:(?P<home>lives?|living|lived|resides?|residing|resident|born|grew up|wohnt|wohne|wohnhaft"
    r"|lebt|lebe|geboren|vit|vis|vivent|habite|né|née|domicili[ée]e?|vive|vivo|reside|resido|nacid[oa]|abita|abito"
    r"|nat[oa]|residente|woont|woon|woonachtig|wonende|mieszka|mieszkam|urodzon[ya]|ur)"
    r"|moved(?: back)?|moving|relocat(?:ed|ing|es)|is from|am from|comes? from|zieht|umgezogen|stammt|déménag\w*"
    r"|originaire|pars|natural|mud[aoó]\w*|trasferi\w*|verhuist|verhuisd|afkomstig|przeprowadz\w*)(?![^\W\d_]))"
    r"(?:[^\n;!?.]|\.(?=\d)|(?<=\d)\.|(?<=\bur)\.){0,40}?"
    r"(?<![^\W\d_])(?:in|to|at|à|a|en|au|nach|naar|w|we|do|aus|uit|de|di|da|from|near)\s+"
    r"(?P<place>[A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻ][\w'’-]*(?:[ ](?:(?:im|am|an|der|sur|upon|on|de|del|la|le|di|nad|pod)[ ])?"
    r"[A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻ][\w'’-]*){0,2})"
)


_CAPITAL_INSIDE = re.compile(r"[a-z][A-Z]")


class PersonalPlaces:
    """LOCATION spans for places a text ties to a person; a place alone ("our Frankfurt data centre") is none."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for m in _TIE.finditer(text):
            words = m["place"].split(" ")
            if not words[0][0].isupper() or words[0].lower() in ANY_LANGUAGE_FUNCTION_WORDS:
                continue
            # Capitalised words and the particles between them: "Freiburg im Breisgau", not "Lisbon in".
            while len(words) > 1 and not words[-1][0].isupper():
                words.pop()
            place = " ".join(words)
            if _CAPITAL_INSIDE.search(place):
                continue  # "moved the engine to ClickHouse": a product's name
            # Where someone lives or was born, any place ("ur. ... w Lublinie"); where they move or come from,
            # a place GeoNames knows: "moved to Closed Won", "moved from Nagios" are no places.
            known = fold(place).lower() in self._lex.places
            if not known and (m["home"] is None or self._lex.ordinary(fold(words[0]).lower())):
                continue
            start = m.start("place")
            yield qualified(text, ("LOCATION", start, start + len(place)))
