"""Credentials: API keys and tokens by their issuers' published formats, JSON Web Tokens, private keys, and
key=value assignments.

One pattern with these as alternatives would find them, but two alternatives read on from every place they may
start: a JWT's segments from every "eyJ" inside one long token, a private key's body from every BEGIN line when
no END line follows. Those two are searches that skip what they have already read, and the searches are merged
as the alternation would be (leftmost first, none starting inside another), so a text is read once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

# Where a match is, and the part of it that is the secret (the value of a key=value assignment).
Found = tuple[int, int, int, int]
Search = Callable[[str, int], Found | None]

_ISSUED = re.compile(
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API key
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_JWT_START = re.compile(r"\beyJ")
_SEGMENT_END = re.compile(r"[^A-Za-z0-9_-]")
_KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END (?:[A-Z]+ )?PRIVATE KEY-----")
_ASSIGNED = re.compile(r"(?i:\b(?:api[_-]?key|secret|token|password|passwd)\b\s*[:=]\s*)([^\s\"',;]{8,})")


def _issued(text: str, pos: int) -> Found | None:
    m = _ISSUED.search(text, pos)
    return None if m is None else (m.start(), m.end(), m.start(), m.end())


def _jwt(text: str, pos: int) -> Found | None:
    while (start := _JWT_START.search(text, pos)) is not None:
        if (m := _JWT.match(text, start.start())) is not None:
            return m.start(), m.end(), m.start(), m.end()
        # Every later "eyJ" in this token reads on to the same end and fails there the same way.
        end = _SEGMENT_END.search(text, start.end())
        pos = len(text) if end is None else end.start()
    return None


def _private_key(text: str, pos: int) -> Found | None:
    begin = _KEY_BEGIN.search(text, pos)
    if begin is None:
        return None
    end = _KEY_END.search(text, begin.end())  # the first END after it, as a lazy [\s\S]*? would stop at
    # No END after this BEGIN: none after any later one either.
    return None if end is None else (begin.start(), end.end(), begin.start(), end.end())


def _assigned(text: str, pos: int) -> Found | None:
    m = _ASSIGNED.search(text, pos)
    return None if m is None else (m.start(), m.end(), m.start(1), m.end(1))


def first_of(text: str, searches: tuple[Search, ...]) -> Iterator[Found]:
    """What ``finditer`` of the searches' alternation finds: at each step the leftmost match (the earlier
    search's at a tie), then on from its end. A search is asked again only when a match overlapped its own."""
    found = [search(text, 0) for search in searches]
    pos = 0
    while True:
        best: Found | None = None
        for k, search in enumerate(searches):
            if (mine := found[k]) is not None and mine[0] < pos:
                found[k] = mine = search(text, pos)
            if mine is not None and (best is None or mine[0] < best[0]):
                best = mine
        if best is None:
            return
        yield best
        pos = best[1]


class Secret:
    """API keys and tokens by their issuers' published formats, private keys, and key=value assignments."""

    _searches: tuple[Search, ...] = (_issued, _jwt, _private_key, _assigned)

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for _, _, start, end in first_of(text, self._searches):
            yield "SECRET", start, end
