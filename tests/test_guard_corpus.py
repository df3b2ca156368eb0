"""The realistic guard corpus (bench/guard_corpus/) holds what its README claims, and its loader refuses bad records.

No detector runs here: these checks keep the evaluation data trustworthy, whatever the guard does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from guard_corpus import records, scoring  # noqa: E402  (bench/ is not on the default import path)


@pytest.fixture(scope="module")
def corpus() -> list[records.Record]:
    return records.load()


def test_corpus_loads_with_every_span_reading_its_value(corpus: list[records.Record]) -> None:
    assert len(corpus) >= 350
    spans = [(r, s) for r in corpus for s in r.spans]
    assert len(spans) >= 700
    for record, span in spans:
        assert record.text[span.start : span.end] == span.value, record.id


def test_ids_are_unique_and_the_splits_are_disjoint(corpus: list[records.Record]) -> None:
    assert len({r.id for r in corpus}) == len(corpus)
    groups = {split: {r.group for r in corpus if r.split == split} for split in records.SPLITS}
    assert not groups["dev"] & groups["heldout"]
    assert all(r.split == records.split_of(r.group) for r in corpus)
    assert {r.id for r in records.load("dev")}.isdisjoint(r.id for r in records.load("heldout"))
    heldout = sum(r.split == "heldout" for r in corpus) / len(corpus)
    assert 0.3 <= heldout <= 0.5


def test_every_genre_and_language_has_clean_and_personal_texts(corpus: list[records.Record]) -> None:
    cells = Counter((r.genre, r.language, r.clean) for r in corpus)
    for genre in records.GENRES:
        for language in records.LANGUAGES:
            assert cells[(genre, language, True)] >= 2, (genre, language, "clean")
            assert cells[(genre, language, False)] >= 2, (genre, language, "personal data")
    for split in records.SPLITS:
        part = Counter((r.genre, r.clean) for r in corpus if r.split == split)
        assert all(part[(g, c)] >= 2 for g in records.GENRES for c in (True, False)), split
    clean = sum(r.clean for r in corpus) / len(corpus)
    assert 0.4 <= clean <= 0.6


def test_every_type_the_readme_promises_is_annotated(corpus: list[records.Record]) -> None:
    types = Counter(s.type for r in corpus for s in r.spans)
    for kind in records.TYPES:
        assert types[kind] >= 3, kind
    assert {r.language for r in corpus for s in r.spans if s.type == "NATIONAL_ID"} >= {"de", "fr", "es", "it", "nl"}


def write(root: Path, record: dict[str, Any]) -> None:
    split = records.split_of(str(record["group"]))
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / split / f"{record['genre']}.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")


def good() -> dict[str, Any]:
    text = "Call Rose Whitfield on 07824 511309."
    return {
        "id": "en-support-99",
        "group": "en-support-99",
        "genre": "support",
        "language": "en",
        "text": text,
        "spans": [
            {"type": "PERSON", "start": 5, "end": 19, "value": "Rose Whitfield"},
            {"type": "PHONE_NUMBER", "start": 23, "end": 35, "value": "07824 511309"},
        ],
    }


def test_loader_reads_a_well_formed_record(tmp_path: Path) -> None:
    write(tmp_path, good())
    (record,) = records.load(root=tmp_path)
    assert [s.value for s in record.spans] == ["Rose Whitfield", "07824 511309"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["spans"][0].update(end=18), "value says"),
        (lambda r: r["spans"][1].update(type="TELEPHONE"), "unknown span type"),
        (lambda r: r.update(genre="chat"), "unknown genre"),
        (lambda r: r.update(language="pt"), "unknown language"),
        (lambda r: r["spans"][1].update(start=10, end=22, value=r["text"][10:22]), "overlapping"),
        (lambda r: r.update(note="x"), "exactly the fields"),
    ],
)
def test_loader_refuses_a_broken_record(tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str) -> None:
    record = good()
    change(record)
    write(tmp_path, record)
    with pytest.raises(records.CorpusError, match=message):
        records.load(root=tmp_path)


def test_loader_refuses_a_record_filed_in_the_other_split(tmp_path: Path) -> None:
    record = good()
    other = "dev" if records.split_of(str(record["group"])) == "heldout" else "heldout"
    (tmp_path / other).mkdir()
    (tmp_path / other / "support.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(records.CorpusError, match="belongs to"):
        records.load(root=tmp_path)


def test_a_span_is_found_when_findings_cover_ninety_percent_of_its_letters_and_digits() -> None:
    text = "IBAN: DE89 3704 0044 0532 0130 00"
    start = 6
    assert scoring.covers([("IBAN", start, len(text))], start, len(text), text)
    assert scoring.covers([("IBAN", start, len(text) - 2)], start, len(text), text)  # 20 of 22: spaces don't count
    assert not scoring.covers([("IBAN", start, len(text) - 4)], start, len(text), text)  # 19 of 22


def test_the_benchmark_never_lists_held_out_misses() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "guard_accuracy.py"), "--split", "heldout", "--misses"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "held-out split is never looked into" in run.stderr
