"""Names that a sentence's frame gives away, whatever the name: a speaker's label before a quote, the person a
message opens by addressing, a maiden name, the one who said something.

``people`` finds a name on the evidence of its lists and its neighbours; a name no list knows ("Guðmar",
"Mashuu"), or one that is also a place or a word ("Austin", "Frank"), needs a frame that only a person fills:

- ``Vlasta: "Who are you?"`` in a dialogue: a single word before a colon and a quote, at a line's start, is who
  speaks where two such labels or more stand in the text (one alone is a record's field: ``Stato: "aperto"``);
- ``Katarzyna, can you check it?``: a given name and a comma opening a line, then a question's or a request's
  first word, is who is addressed;
- ``Her maiden name is Ooshima``, ``née Kowalski``, ``geborene Hartmann``: a birth name;
- ``said Jay to Francisco``, ``shouted Beaufort.``: the one who speaks.

No software name, eponym, month, function word, place, or name that is also a word ("Mark", "Grace") is taken,
and the word must be capitalised (not all capitals). A surname alone must be no English word ("Stage:",
"Client:" are surnames too). A word no list knows must be no English word, in a text whose words say it is
English (the dictionary is English), and is never taken as the one addressed: "Betreff:", "Kafka said",
"Thanks, can you", "État, can you", "Frankfurt, we" stay what they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from enclave.guard import known_terms
from enclave.guard.languages import languages
from enclave.guard.lexicon import Lexicon, fold
from enclave.guard.people import name_words
from enclave.guard.person_cues import CALENDAR, FUNCTION_WORDS

_WORD = r"(?P<name>[^\W\d_][^\W\d_'’-]*(?:-[^\W\d_]+)?)"
_FRAMES = re.compile(
    rf"(?m:^[ \t]*{_WORD}: ?[\"“])"
    rf"|(?m:^[ \t]*{_WORD.replace('name', 'hailed')}, (?=(?:can|could|would|will|please|do|did|are|have|is|i|we"
    r"|you)\b))"
    rf"|(?i:maiden name (?:is|was)|n[ée]e|geborene|geb\.) {_WORD.replace('name', 'born')}"
    rf"|(?<![^\W\d_])(?:said|says|shouted|replied|asked) {_WORD.replace('name', 'speaker')}(?= to\b|[.,!?]|$)"
)


class PersonFrames:
    """PERSON spans for names in the frames of the module's docstring."""

    def __init__(self, lexicon: Lexicon) -> None:
        words = name_words(lexicon)
        self._given = words.given
        self._surnames = words.surnames
        self._word_names = words.word_names
        self._lexicon = lexicon

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        english: list[bool] = []  # asked once, of the first word no list knows
        frames = [
            (m, next(g for g in ("name", "hailed", "born", "speaker") if m[g] is not None))
            for m in _FRAMES.finditer(text)
        ]
        # A dialogue has several speakers' labels; a record's "Stato: \"aperto\"" line is one label among fields.
        labels = sum(1 for _, group in frames if group == "name")
        for m, group in frames:
            start, end = m.span(group)
            if self._person(text, start, end, group, labels, english):
                yield "PERSON", start, end

    def _person(self, text: str, start: int, end: int, group: str, labels: int, english: list[bool]) -> bool:
        """Whether the word in the frame is a name (see the module's docstring)."""
        word = text[start:end]
        if not word[0].isupper() or (word.isupper() and len(word) > 1):
            return False
        bare = fold(word).lower()
        lexicon = self._lexicon
        if (
            bare in FUNCTION_WORDS
            or bare in CALENDAR
            or bare in self._word_names  # "Mark:", "Grace, can you": a name only where more says so
            or bare in lexicon.places
            or bare in lexicon.large_places
            or known_terms.technology(bare)
            or known_terms.eponym(text, start, end, bare)
        ):
            return False
        if bare in self._given:
            return True
        if bare in self._surnames:
            # "Stage:", "Client:", "Level:" are surnames too: one alone is a name only where it is no English word,
            # and never the one a line addresses ("Frankfurt, we").
            return group != "hailed" and not lexicon.ordinary(bare)
        if group == "hailed" or lexicon.ordinary(bare) or (group == "name" and labels < 2):
            return False
        # A word no list knows is a name only where the dictionary that says it is no word is the text's own:
        # "Betreff:", "Objet:", "Hinweis," are words of other languages.
        if not english:
            english.append(languages(text)[:1] == ["en"])
        return english[0]
