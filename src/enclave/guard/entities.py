"""Named entities through a pluggable backend: the one interface, the registry of backends, and the default.

Every backend reports the same four types, so findings, data classes and placeholders do not depend on which
one is configured. A backend is built once, when the guard is, and must not reach the network, then or later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from enclave.config import EntitiesConfig
from enclave.guard import lexicon
from enclave.guard.addresses import StreetAddress
from enclave.guard.blocks import addressees
from enclave.guard.business_addresses import of_organisation
from enclave.guard.numbered_rooms import numbered_room
from enclave.guard.people import People
from enclave.guard.person_frames import PersonFrames
from enclave.guard.places import PersonalPlaces
from enclave.guard.proper_nouns import ProperNouns
from enclave.guard.securities import SecurityNames

ENTITY_TYPES = ("PERSON", "LOCATION", "ADDRESS", "ORGANIZATION")


class EntityBackend(Protocol):
    """Finds named entities in a text; yields (entity_type, start, end) with entity_type in ENTITY_TYPES."""

    def find(self, text: str) -> Iterator[tuple[str, int, int]]: ...


class Builtin:
    """Name lists, the words around names, and address patterns: a fraction of a millisecond a sentence, no model.

    People (``people``), places tied to a person (``places.PersonalPlaces``) and street addresses always;
    organisations only when configured: the capitalisation tagger (``proper_nouns``), securities as exchanges
    list them, and the addressee lines above a street."""

    def __init__(self, config: EntitiesConfig) -> None:
        lex = lexicon.load()
        self._parts: tuple[EntityBackend, ...] = (
            People(lex),
            PersonFrames(lex),
            PersonalPlaces(lex),
            StreetAddress(lex),
        )
        self._organisations: tuple[EntityBackend, ...] = ()
        if "ORGANIZATION" in config.types:
            self._organisations = (_OrganisationsOnly(ProperNouns(lex)), SecurityNames(lex))

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        spans = [span for part in self._parts for span in part.find(text)]
        persons = [(s, e) for kind, s, e in spans if kind == "PERSON"]
        spans = [
            (kind, start, end)
            for kind, start, end in spans
            if not (kind == "ADDRESS" and of_organisation(text, start, persons))
            and not (kind in ("PERSON", "LOCATION") and numbered_room(text, start, end))
        ]
        yield from spans
        if self._organisations:
            found = [span for part in self._organisations for span in part.find(text)]
            yield from found
            yield from addressees(text, spans + found)


class _OrganisationsOnly:
    """The capitalisation tagger's organisations: a legal form or an organisation's word ends them ("Vaxart
    Inc.", "Boston Consulting Group"). Its people and places are not read: capitals alone are no evidence of
    either (see ``people``)."""

    def __init__(self, tagger: ProperNouns) -> None:
        self._tagger = tagger

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        return (span for span in self._tagger.find(text) if span[0] == "ORGANIZATION")


def _spacy(config: EntitiesConfig) -> EntityBackend:
    from enclave.guard.model_backends import Spacy

    return Spacy(config)


def _presidio(config: EntitiesConfig) -> EntityBackend:
    from enclave.guard.model_backends import Presidio

    return Presidio(config)


BACKENDS: dict[str, Callable[[EntitiesConfig], EntityBackend]] = {
    "builtin": Builtin,
    "spacy": _spacy,
    "presidio": _presidio,
}


class Only:
    """A backend limited to the configured entity types."""

    def __init__(self, backend: EntityBackend, types: frozenset[str]) -> None:
        self._backend = backend
        self._types = types

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        return (found for found in self._backend.find(text) if found[0] in self._types)


def enabled_types(config: EntitiesConfig) -> frozenset[str]:
    """The entity types the configuration reports: none when named entities are off."""
    return frozenset() if config.backend == "none" else frozenset(config.types)


def load(config: EntitiesConfig) -> EntityBackend | None:
    """The configured backend, or None when named entities are off."""
    if config.backend == "none" or not config.types:
        return None
    return Only(BACKENDS[config.backend](config), frozenset(config.types))
