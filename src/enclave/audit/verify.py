"""Verifying the audit log: every link and seal of the chain, every checkpoint in every place, with trusted keys.

Which key is trusted decides what a verification proves. Keys pinned in ``audit.public_keys`` (or given with
``--public-key``) are trusted, and nothing else: a rewritten store re-signed with a replaced key fails. Without a
pin, the key of the oldest checkpoint is trusted (first use) and a second key anywhere is a problem, which
catches a replaced key as long as one checkpoint place was out of the attacker's reach; this is said in the
result's warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from sqlalchemy import Engine

from enclave.audit.chain import Problem, Verification, walk
from enclave.audit.checkpoints import Checkpoint, Checkpoints, Place, read_place
from enclave.audit.signing import PublicKey


@dataclass(frozen=True, slots=True)
class KnownHead:
    """A head recorded by an earlier verification (``SEQ`` or ``SEQ:HASH``): the log must still contain it.
    The one check that catches the store and every checkpoint place rolled back together."""

    seq: int
    hash: str | None = None

    @classmethod
    def parse(cls, text: str) -> KnownHead:
        seq, _, digest = text.partition(":")
        if not seq.isdigit() or (digest and len(digest) != 64):
            raise ValueError("a known head is SEQ or SEQ:HASH (64 hex digits), as `audit verify` prints it")
        return cls(int(seq), digest or None)


def _trusted(
    checkpoints: Checkpoints,
    places: list[Place],
    fallback: PublicKey | None,
    problems: list[Problem],
    warnings: list[str],
) -> tuple[PublicKey, ...]:
    if checkpoints.pinned:
        return checkpoints.pinned
    warnings.append(
        "the signing key is not pinned (audit.public_keys, or --public-key): a key replaced in every "
        "checkpoint place at once would go unnoticed"
    )
    seen: list[str] = []
    for point in sorted((p for place in places for p in place.points), key=lambda p: p.n):
        if point.key not in seen:
            seen.append(point.key)
    if len(seen) > 1:
        problems.append(
            Problem(
                0,
                "key",
                f"checkpoints are signed by {len(seen)} different keys: the signing key "
                "was replaced (pin the right one in audit.public_keys)",
            )
        )
    for text in seen:
        try:
            return (PublicKey.parse(text),)  # the oldest checkpoint's key: trusted on first use
        except ValueError:
            continue
    if fallback is not None:
        return (fallback,)
    problems.append(Problem(0, "key", "no public key to verify with: pin one in audit.public_keys"))
    return ()


def _signed(place: Place, trusted: Sequence[PublicKey], problems: list[Problem]) -> list[Checkpoint]:
    """The place's checkpoints signed by a trusted key, in file order; the counter must grow by one a line."""
    keys = {key.text: key for key in trusted}
    good: list[Checkpoint] = []
    for point in place.points:
        key = keys.get(point.key)
        if key is None:
            problems.append(
                Problem(
                    point.seq,
                    "key",
                    f"{place.path}: checkpoint {point.n} is signed by a key that "
                    "is not trusted (the signing key was replaced)",
                )
            )
        elif not key.verifies(point.message(), point.sig):
            problems.append(
                Problem(
                    point.seq,
                    "checkpoint",
                    f"{place.path}: checkpoint {point.n}: the signature does not match (forged or edited)",
                )
            )
        else:
            good.append(point)
    for before, after in pairwise(good):
        if after.n <= before.n:
            problems.append(
                Problem(
                    after.seq,
                    "checkpoint",
                    f"{place.path}: checkpoint {after.n} follows {before.n} (lines reordered or copied)",
                )
            )
        elif after.n > before.n + 1:
            problems.append(
                Problem(
                    after.seq,
                    "checkpoint",
                    f"{place.path}: checkpoints {before.n + 1}..{after.n - 1} are missing (lines deleted)",
                )
            )
    return good


def _across_places(
    places: list[Place],
    signed: list[list[Checkpoint]],
    settled: set[int],
    allow_new: bool,
    problems: list[Problem],
    warnings: list[str],
) -> list[Checkpoint]:
    """Every place must hold what the others hold; returns the checkpoints of all places together.

    A writer appends to the first place, then to the others, one checkpoint at a time. ``settled`` are the
    checkpoints the first place held before the others were read, but its last: every place has them (unless
    it was set up later: it starts later). The first place is read again after the others, so it holds every
    checkpoint they do.
    """
    names = ", ".join(str(p.path) for p in places)
    if not any(signed):
        if allow_new:
            warnings.append("no checkpoints yet (--new): a cut tail or a rolled-back store cannot be seen")
        else:
            problems.append(
                Problem(
                    0,
                    "checkpoint",
                    f"no signed checkpoints in {names}: deleted or emptied (if this log is new, say so with --new)",
                )
            )
        return []
    primary = {p.n for p in signed[0]}
    for place, points in zip(places[1:], signed[1:], strict=True):
        held = {p.n for p in points}
        if lost := sorted(held - primary):
            problems.append(
                Problem(
                    0,
                    "rolled_back",
                    f"{places[0].path} lacks checkpoints {lost[0]}..{lost[-1]} "
                    f"that {place.path} holds (deleted, emptied, cut short or rolled back)",
                )
            )
        start = min(held) if held else 1
        if behind := sorted(n for n in settled if n >= start and n not in held):
            problems.append(
                Problem(
                    0,
                    "rolled_back",
                    f"{place.path} lacks checkpoints {behind[0]}..{behind[-1]} "
                    f"that {places[0].path} holds (deleted, emptied, cut short or rolled back)",
                )
            )
    by_n: dict[int, Checkpoint] = {}
    for points in signed:
        for point in points:
            if by_n.setdefault(point.n, point) != point:
                problems.append(Problem(point.seq, "checkpoint", f"checkpoint {point.n} differs between the places"))
    legacy = sum(len(place.legacy) for place in places)
    if legacy:
        warnings.append(
            f"{legacy} HMAC checkpoint(s) from before Ed25519 signing were not checked "
            "(`enclave audit migrate` checks them once)"
        )
    return sorted(by_n.values(), key=lambda p: p.n)


def verify_log(
    engine: Engine,
    checkpoints: Checkpoints,
    *,
    allow_new: bool = False,
    known_head: KnownHead | None = None,
    fallback: PublicKey | None = None,
) -> Verification:
    """Every link, seal and checkpoint, in one consistent snapshot of the store (the server keeps appending
    meanwhile). ``fallback``: the key to trust when nothing is pinned and no checkpoint names one."""
    first_look = read_place(checkpoints.places[0])
    places = checkpoints.read()
    settled = {point.n for point in first_look.points[:-1]}  # the last may still be on its way to the others
    problems = [problem for place in places for problem in place.problems]
    warnings: list[str] = []
    if fallback is None and checkpoints.key is not None:
        fallback = checkpoints.key.public
    trusted = _trusted(checkpoints, places, fallback, problems, warnings)
    signed = [_signed(place, trusted, problems) for place in places]
    points = _across_places(places, signed, settled, allow_new, problems, warnings)
    wanted = {p.seq for p in points} | ({known_head.seq} if known_head else set())
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as connection:
        result, hashes = walk(connection, wanted, trusted)
    result.problems.extend(problems)
    result.warnings = warnings
    result.checkpoints = len(points)
    result.last_checkpoint_us = points[-1].at_us if points else None
    for point in points:
        if point.seq > result.head_seq:
            result.problems.append(
                Problem(
                    result.head_seq,
                    "rolled_back",
                    f"checkpoint {point.n} signed the log at {point.seq} entries; it now ends at {result.head_seq} "
                    "(entries at the end deleted, or the store rolled back)",
                )
            )
        elif point.seq > 0 and hashes.get(point.seq) != point.hash:
            result.problems.append(
                Problem(
                    point.seq,
                    "checkpoint",
                    f"entry {point.seq} differs from the one checkpoint {point.n} signed (the chain was rewritten)",
                )
            )
    if known_head is not None:
        if known_head.seq > result.head_seq:
            result.problems.append(
                Problem(
                    result.head_seq,
                    "rolled_back",
                    f"the log ends at entry {result.head_seq} but had reached {known_head.seq} (rolled back)",
                )
            )
        elif known_head.hash is not None and hashes.get(known_head.seq) != known_head.hash:
            result.problems.append(
                Problem(
                    known_head.seq,
                    "rolled_back",
                    f"entry {known_head.seq} is not the one "
                    "recorded earlier (the log was rolled back and written again)",
                )
            )
    return result
