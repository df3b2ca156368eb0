"""Places the tagger's single words do not make: names of two or more ordinary words ("United Kingdom"), states
named for their people ("Czech Republic"), and the qualifier that tells a place from its namesake ("Cyprus
(Greek)").
"""

from __future__ import annotations

import re

from enclave.guard.lexicon import Lexicon
from enclave.guard.name_words import FUNCTION_WORDS, NATIONALITIES, PLACE_CUES
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
