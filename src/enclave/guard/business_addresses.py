"""Addresses that are an organisation's, not a person's: a court's, a regulator's, a company's registered office.

"le médiateur de la consommation CM2C, 14 rue Saint-Jean, 75017 Paris", "Amtsgericht Charlottenburg,
Hardenbergstraße 31", "registered office: 1 Canada Square", "ACME GmbH, Hauptstraße 5": the address is where to
write to a body, and no one's personal data. A street address is left out when a legal form stands right before
it, or when a body's word stands on its line within 60 characters before it and no person is named between the
two (``Mr Jan Nowak`` after "the court wrote to" keeps the address that follows his name).
"""

from __future__ import annotations

import re

from enclave.guard.name_words import LEGAL_SUFFIXES

_BODIES = (
    r"m[ée]diateur|mediator|ombudsman|tribunal|court|gericht|amtsgericht|landgericht|finanzamt|bundesamt|beh[öo]rde"
    r"|ministerium|minist[èe]re|ministerio|ministero|ministerie|juzgado|tribunale|rechtbank|s[ąa]d|urz[ąa]d\w*"
    r"|registry|registrar|agency|authority|autorit[ée]|agencia|autorit[àa]|autoriteit|regulator|commission"
    r"|headquarters|registered office|si[èe]ge(?: social)?|sede(?: legale| social)?|siedzib\w*|hauptsitz"
    r"|firmensitz|gesch[äa]ftssitz|statutaire zetel|zetel|head office|kantoor"
)
_BODY = re.compile(rf"(?i:(?<![^\W\d_])(?:{_BODIES})(?![^\W\d_]))[^\n]{{0,60}}\Z")
# A legal form right before the address on its line: "ACME GmbH, Hauptstraße 5". (A letterhead's company on the
# line above may sit over a person's name and address, and is left alone.)
_LEGAL_FORM = re.compile(
    rf"(?i:(?<![^\W\d_])(?:{'|'.join(sorted(map(re.escape, LEGAL_SUFFIXES), key=len, reverse=True))})"
    r"(?![^\W\d_]))\.?[ \t]*[,:–-]?[ \t]*\Z"
)


def of_organisation(text: str, start: int, persons: list[tuple[int, int]]) -> bool:
    """Whether the address at start is an organisation's: its word before, on the line, and no person between."""
    if _LEGAL_FORM.search(text, max(0, start - 24), start) is not None:
        return True
    m = _BODY.search(text, max(0, start - 90), start)
    return m is not None and not any(m.start() <= s < start for s, _ in persons)
