"""Stop sequences over text that arrives in arbitrary pieces."""

from __future__ import annotations

import pytest

from enclave.engines.stop import StopMatcher


def run(pieces: list[str], stops: tuple[str, ...]) -> tuple[str, bool]:
    matcher = StopMatcher(stops)
    out = []
    for piece in pieces:
        out.append(matcher.feed(piece))
        if matcher.stopped:
            return "".join(out), True
    return "".join(out) + matcher.flush(), False


@pytest.mark.parametrize(
    ("pieces", "stops", "expected"),
    [
        (["Hello wor", "ld. Bye"], ("world",), ("Hello ", True)),
        (["a", "b", "c", "d"], ("bc",), ("a", True)),
        (["abc"], ("x", "b"), ("a", True)),
        (["ab", "c", "ab", "d"], ("abd",), ("abc", True)),
        (["no stop here"], ("zz",), ("no stop here", False)),
        (["ends with z"], ("zz",), ("ends with z", False)),
        (["one ", "two"], (), ("one two", False)),
    ],
)
def test_text_is_cut_before_the_stop_and_nothing_is_lost(pieces, stops, expected) -> None:
    assert run(pieces, stops) == expected


def test_partial_match_is_held_back_until_decided() -> None:
    matcher = StopMatcher(("</answer>",))
    assert matcher.feed("42</ans") == "42"
    assert matcher.feed("wer") == ""
    assert matcher.stopped is False
    assert matcher.feed(">") == ""
    assert matcher.stopped is True
