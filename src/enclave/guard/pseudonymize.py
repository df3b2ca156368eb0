"""Pseudonymization: sensitive values out, stable placeholders in; and the way back, chunk by chunk.

The mapping lives in memory for one request only. Restoring a stream holds back only what could still be the
beginning of a placeholder, so tokens keep flowing and a placeholder split across chunks is still restored.

Placeholders cannot be forged: a request whose text already holds one ("<PERSON_1>", typed by its sender or
pasted in a document) keeps it as it is, and the guard never issues that placeholder in the same request (the
next free number is used), so only placeholders the guard issued are ever restored. Numbers stay small and
deterministic, so the same prompt is pseudonymized the same way each time (a hosted model's prompt cache still
applies) and a model reads "<PERSON_2>" as easily as "<PERSON_1>".
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence

from enclave.guard.findings import Finding


class Pseudonyms:
    """Placeholders of one request: the same value always gets the same placeholder."""

    _placeholder = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")

    def __init__(self) -> None:
        self._by_value: dict[str, str] = {}
        self.originals: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._literal: set[str] = set()  # placeholder-like text the request itself carries: never issued

    def placeholder(self, entity_type: str, value: str) -> str:
        if value not in self._by_value:
            n = self._counts.get(entity_type, 0) + 1
            while (token := f"<{entity_type}_{n}>") in self._literal:
                n += 1
            self._counts[entity_type] = n
            self._by_value[value] = token
            self.originals[token] = value
        return self._by_value[value]

    def apply(self, texts: Sequence[str], findings: Sequence[Finding]) -> list[str]:
        """Each text with its findings replaced (findings carry the index of the text they belong to). ``texts``
        are all the texts of the request (``guard.texts``): a placeholder written in any of them is never issued.
        """
        # A placeholder-shaped string in the result is then either one we issued or one the sender wrote: none
        # can straddle a replacement, since a placeholder holds no "<" or ">" inside.
        self._literal.update(m.group() for text in texts for m in self._placeholder.finditer(text))
        by_text: dict[int, list[Finding]] = defaultdict(list)
        for finding in findings:
            by_text[finding.message].append(finding)
        out = list(texts)
        for index, mine in by_text.items():
            text = texts[index]
            parts, cursor = [], 0
            for f in sorted(mine, key=lambda f: f.start):
                parts += [text[cursor : f.start], self.placeholder(f.entity_type, text[f.start : f.end])]
                cursor = f.end
            out[index] = "".join(parts) + text[cursor:]
        return out

    def restore(self, text: str, *, in_json: bool = False) -> str:
        """``text`` with our placeholders replaced by their values. ``in_json``: the text is JSON (tool-call
        arguments, a JSON answer) whose placeholders stand inside strings, so the values are escaped for that
        (an address's line break must not end up raw inside a JSON string)."""
        originals = self.originals
        if in_json:
            return self._placeholder.sub(
                lambda m: (
                    json.dumps(originals[m.group(0)], ensure_ascii=False)[1:-1]
                    if m.group(0) in originals
                    else m.group(0)
                ),
                text,
            )
        return self._placeholder.sub(lambda m: originals.get(m.group(0), m.group(0)), text)

    @property
    def longest(self) -> int:
        return max((len(p) for p in self.originals), default=0)


class StreamRestorer:
    """Feed answer chunks in order; get back text with placeholders replaced by the original values.

    One restorer per stream of text: a choice's content, or one tool call's arguments (``in_json``)."""

    def __init__(self, pseudonyms: Pseudonyms, *, in_json: bool = False) -> None:
        self._pseudonyms = pseudonyms
        self._in_json = in_json
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        start = text.rfind("<")
        # Hold back an unfinished "<TYPE_N" tail (never longer than the longest placeholder).
        if start >= 0 and ">" not in text[start:] and len(text) - start < self._pseudonyms.longest:
            self._held = text[start:]
            text = text[:start]
        else:
            self._held = ""
        return self._pseudonyms.restore(text, in_json=self._in_json)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self._pseudonyms.restore(held, in_json=self._in_json)
