"""Optional model backends for named entities, used only when configured and installed (neither is a dependency).

Both load a spaCy pipeline from an installed package or a directory; neither downloads one. Presidio is given
its spaCy recognizer alone: its e-mail recognizer calls tldextract, which fetches the public-suffix list from
the network on first use, and enclave's own recognizers already cover the identifiers it would add.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from enclave.config import EntitiesConfig
from enclave.errors import ConfigError

# spaCy's OntoNotes labels (and Presidio's names for them) as the guard's entity types.
_LABELS = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "LOCATION": "LOCATION",
    "FAC": "ADDRESS",
    "ORG": "ORGANIZATION",
    "ORGANIZATION": "ORGANIZATION",
}


def _pipeline(name: str) -> Any:
    try:
        import spacy
    except ImportError as exc:
        raise ConfigError("guard.entities.backend needs spaCy: pip install spacy and an English model") from exc
    try:
        return spacy.load(name)  # a package or a directory: spacy.load never downloads
    except OSError as exc:
        raise ConfigError(f"guard.entities.spacy_model {name!r} is not installed: {exc}") from exc


class Spacy:
    def __init__(self, config: EntitiesConfig) -> None:
        self._nlp = _pipeline(config.spacy_model)

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for ent in self._nlp(text).ents:
            if ent.label_ in _LABELS:
                yield _LABELS[ent.label_], ent.start_char, ent.end_char


class Presidio:
    def __init__(self, config: EntitiesConfig) -> None:
        try:
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_analyzer.nlp_engine import SpacyNlpEngine
            from presidio_analyzer.predefined_recognizers import SpacyRecognizer
        except ImportError as exc:
            raise ConfigError("guard.entities.backend 'presidio' needs presidio-analyzer installed") from exc
        _pipeline(config.spacy_model)  # fail here, clearly, rather than let Presidio try to download it
        engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": config.spacy_model}])
        registry = RecognizerRegistry()
        registry.add_recognizer(SpacyRecognizer(supported_entities=["PERSON", "LOCATION", "ORGANIZATION"]))
        self._analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for result in self._analyzer.analyze(text, language="en"):
            if result.entity_type in _LABELS:
                yield _LABELS[result.entity_type], result.start, result.end
