"""Names that a sentence's frame gives away, whatever the name: a speaker's label before a quote, the person a
message opens by addressing, a maiden name, the one who said something.

``people`` finds a name on the evidence of its lists and its neighbours; a name no list knows ("Guðmar",
"Mashuu"), or one that is also a place or a word ("Austin", "Frank"), needs a frame that only a person fills:

- ``Vlasta: "Who are you?"``: a single word before a colon and a quote, at a line's start, is who speaks;
- ``Walentyna, can I please speak to your boss?``: a word and a comma opening a line, then a question's or a
  request's first word, is who is addressed;
- ``Her maiden name is Ooshima``, ``née Kowalski``, ``geborene Hartmann``: a birth name;
- ``said Jay to Francisco``, ``shouted Beaufort.``: the one who speaks.

The word must be capitalised (not all capitals), and no software name, eponym, month or function word. A place
is a name here only where it is a given name too. A word no name list knows must be no English word, in a text
whose words say it is English (the dictionary is English), and the one addressed must be written with a letter
English does not use ("Guðmar"): a "Note:" or "Betreff:" before a quote, "Kafka said", "Thanks, can you",
"Frankfurt, we" stay what they are.
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
        self._lexicon = lexicon

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        english: list[bool] = []  # asked once, of the first word no list knows
        for m in _FRAMES.finditer(text):
            group = next(g for g in ("name", "hailed", "born", "speaker") if m[g] is not None)
            start, end = m.span(group)
            if self._person(text, start, end, english, surname=group != "hailed"):
                yield "PERSON", start, end

    def _person(self, text: str, start: int, end: int, english: list[bool], surname: bool) -> bool:
        """Whether the word is a name; a surname alone counts unless it is the one addressed ("Frankfurt, we")."""
        word = text[start:end]
        if not word[0].isupper() or (word.isupper() and len(word) > 1):
            return False
        bare = fold(word).lower()
        if bare in FUNCTION_WORDS or known_terms.technology(bare) or known_terms.eponym(text, start, end, bare):
            return False
        given = bare in self._given
        lexicon = self._lexicon
        if (bare in CALENDAR or bare in lexicon.places or bare in lexicon.large_places) and not given:
            return False
        if given or (surname and bare in self._surnames):
            return True
        if bare in self._surnames or lexicon.ordinary(bare) or (not surname and word.isascii()):
            return False  # one addressed by a word no list knows: only one English never writes ("Guðmar")
        # A word no list knows is a name only where the dictionary that says it is no word is the text's own:
        # "Betreff:", "Objet:", "Hinweis," are words of other languages.
        if not english:
            english.append(languages(text)[:1] == ["en"])
        return english[0]
