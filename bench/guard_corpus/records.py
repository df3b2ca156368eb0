"""The realistic guard corpus: its records, its schema, and the rule that puts each text in dev or heldout.

``load()`` refuses a file that breaks the schema (README.md beside this file) instead of scoring wrong figures:
a span whose value is not the text between its offsets, an unknown type, genre or language, overlapping spans,
a repeated id, or a record stored in the other split than its group hashes to.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
SPLITS = ("dev", "heldout")
GENRES = ("support", "clinical", "hr", "legal", "finance", "software", "crm", "data", "thread")
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl")
# The guard's own type names, plus NATIONAL_ID for the national identifiers it has no type for yet
# (Steuer-ID, NIR, DNI/NIE, codice fiscale, BSN, PESEL, NINO).
TYPES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "ADDRESS",
    "LOCATION",
    "DATE_OF_BIRTH",
    "DATE",
    "NATIONAL_ID",
    "UK_NHS_NUMBER",
    "MEDICAL_RECORD_NUMBER",
    "IBAN",
    "CREDIT_CARD",
    "US_SSN",
    "IP_ADDRESS",
)
# Fixed once, before any detector ran on the corpus; changing it would move texts between the splits.
SPLIT_SALT = "guard-corpus-28"
HELDOUT_SHARE = 4  # in tenths
FIELDS = {"id", "group", "genre", "language", "text", "spans"}
SPAN_FIELDS = {"type", "start", "end", "value"}


class CorpusError(ValueError):
    """A corpus file breaks the schema; the message names the file, the line and what is wrong."""


@dataclass(frozen=True, slots=True)
class Span:
    type: str
    start: int
    end: int
    value: str


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    group: str
    genre: str
    language: str
    text: str
    spans: tuple[Span, ...]
    split: str

    @property
    def clean(self) -> bool:
        """No personal data in it: a detector that finds anything here has flagged a clean text."""
        return not self.spans


def split_of(group: str) -> str:
    """Texts of one group (the same story told in several languages) always fall on the same side."""
    digest = int(hashlib.sha256(f"{SPLIT_SALT}:{group}".encode()).hexdigest(), 16)
    return "heldout" if digest % 10 >= 10 - HELDOUT_SHARE else "dev"


def load(split: str | None = None, root: Path = CORPUS_DIR) -> list[Record]:
    """Every record of one split (or of both), in file order; raises CorpusError on the first broken record."""
    records: list[Record] = []
    seen: set[str] = set()
    for name in SPLITS if split is None else (split,):
        if name not in SPLITS:
            raise CorpusError(f"unknown split {name!r}; expected one of {SPLITS}")
        for path in sorted((root / name).glob("*.jsonl")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                where = f"{path.relative_to(root)}:{number}"
                record = _parse(line, name, where)
                if record.id in seen:
                    raise CorpusError(f"{where}: id {record.id!r} is used twice")
                if record.genre != path.stem:
                    raise CorpusError(f"{where}: genre {record.genre!r} stored in {path.name}")
                seen.add(record.id)
                records.append(record)
    return records


def _parse(line: str, split: str, where: str) -> Record:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as error:
        raise CorpusError(f"{where}: not JSON ({error})") from None
    if not isinstance(raw, dict) or set(raw) != FIELDS:
        raise CorpusError(f"{where}: a record has exactly the fields {sorted(FIELDS)}")
    for field in ("id", "group", "genre", "language", "text"):
        if not isinstance(raw[field], str) or not raw[field]:
            raise CorpusError(f"{where}: {field} must be a non-empty string")
    if raw["genre"] not in GENRES:
        raise CorpusError(f"{where}: unknown genre {raw['genre']!r}")
    if raw["language"] not in LANGUAGES:
        raise CorpusError(f"{where}: unknown language {raw['language']!r}")
    if split_of(raw["group"]) != split:
        raise CorpusError(f"{where}: group {raw['group']!r} belongs to {split_of(raw['group'])}, not {split}")
    if not isinstance(raw["spans"], list):
        raise CorpusError(f"{where}: spans must be a list")
    text: str = raw["text"]
    spans = tuple(_span(item, text, f"{where} ({raw['id']})") for item in raw["spans"])
    for before, after in itertools.pairwise(spans):
        if after.start < before.end:
            raise CorpusError(f"{where} ({raw['id']}): spans out of order or overlapping at {after.start}")
    return Record(raw["id"], raw["group"], raw["genre"], raw["language"], text, spans, split)


def _span(item: object, text: str, where: str) -> Span:
    if not isinstance(item, dict) or set(item) != SPAN_FIELDS:
        raise CorpusError(f"{where}: a span has exactly the fields {sorted(SPAN_FIELDS)}")
    kind, start, end, value = item["type"], item["start"], item["end"], item["value"]
    if kind not in TYPES:
        raise CorpusError(f"{where}: unknown span type {kind!r}")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise CorpusError(f"{where}: offsets {start!r}..{end!r} outside the text")
    if text[start:end] != value:
        raise CorpusError(f"{where}: {kind} at {start}..{end} reads {text[start:end]!r}, value says {value!r}")
    if value != value.strip():
        raise CorpusError(f"{where}: {kind} value {value!r} starts or ends with white space")
    return Span(kind, start, end, value)
