"""Words that are surnames and also number a ward, a bed or a room: "Ward 7B", "Bay 3", "Room 12", "Station 4".

The name lists know "Ward", "Bay" and "Room" as surnames, and a hospital's note is full of them; one such word
alone, with a number right after it, is the room and not a person ("Ward 7B has 24 beds"), nor a place a person
moved to ("moved to Bay 3"). With a name beside it ("Ward Cunningham", "Sarah Ward") it is a person still: only a
finding of that one word is dropped.
"""

from __future__ import annotations

import re

_ROOMS = frozenset(
    {"ward", "bay", "bed", "room", "station", "wing", "block", "floor", "level", "theatre", "unit", "zimmer"}
    | {"saal", "chambre", "salle", "sala", "stanza", "letto", "reparto", "kamer", "afdeling", "pokoj"}
)
_NUMBER_AFTER = re.compile(r"[ \t]\d{1,4}[A-Za-z]?\b")


def numbered_room(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is one room word with a number right after it."""
    return text[start:end].lower() in _ROOMS and _NUMBER_AFTER.match(text, end) is not None
