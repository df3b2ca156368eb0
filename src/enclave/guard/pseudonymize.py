"""Pseudonymization: sensitive values out, stable placeholders in; and the way back, chunk by chunk.

The mapping lives in memory for one request only. Restoring a stream holds back only what could still be the
beginning of a placeholder, so tokens keep flowing and a placeholder split across chunks is still restored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from enclave.guard.findings import Finding


class Pseudonyms:
    """Placeholders of one request: the same value always gets the same placeholder."""

    _placeholder = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")

    def __init__(self) -> None:
        self._by_value: dict[str, str] = {}
        self.originals: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def placeholder(self, entity_type: str, value: str) -> str:
        if value not in self._by_value:
            n = self._counts[entity_type] = self._counts.get(entity_type, 0) + 1
            token = f"<{entity_type}_{n}>"
            self._by_value[value] = token
            self.originals[token] = value
        return self._by_value[value]

    def apply(self, texts: Sequence[str], findings: Sequence[Finding]) -> list[str]:
        """Each text with its findings replaced (findings carry the index of the text they belong to)."""
        out = list(texts)
        for index, text in enumerate(texts):
            mine = sorted((f for f in findings if f.message == index), key=lambda f: f.start)
            parts, cursor = [], 0
            for f in mine:
                parts += [text[cursor:f.start], self.placeholder(f.entity_type, text[f.start:f.end])]
                cursor = f.end
            out[index] = "".join(parts) + text[cursor:]
        return out

    def restore(self, text: str) -> str:
        return self._placeholder.sub(lambda m: self.originals.get(m.group(0), m.group(0)), text)

    @property
    def longest(self) -> int:
        return max((len(p) for p in self.originals), default=0)


class StreamRestorer:
    """Feed answer chunks in order; get back text with placeholders replaced by the original values."""

    def __init__(self, pseudonyms: Pseudonyms) -> None:
        self._pseudonyms = pseudonyms
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
        return self._pseudonyms.restore(text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self._pseudonyms.restore(held)
