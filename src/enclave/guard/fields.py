"""Values in pasted records: a JSON field or a CSV column says what its value is ("first_name", "Geburtsdatum",
"woonplaats", "mrn"), where the value alone could not ("Will", "Leeds", "P-448291").

JSON pairs (``"key": "value"``) and tables (a header row of field names, then rows with as many cells, split at
",", ";", tab or "|", quotes respected) are read; each value under a known field is reported as its type. The
field names are those of the guard's languages. A value under a plain "name" field ("name", "nom", "naam") is
a person's only where it reads as one: a name the lists know, or a surname beside a given-name field.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator

from enclave.guard import lexicon
from enclave.guard.lexicon import fold
from enclave.guard.people import name_words


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PERSON = _keys(
    """
    fullname firstname lastname surname forename givenname familyname middlename vorname nachname familienname
    apellido apellidos nombrecompleto prenom nomdefamille nomcomplet cognome nomecompleto voornaam achternaam
    volledigenaam imie imienazwisko nazwisko accountholder kontoinhaber titular intestatario rekeninghouder
    """
)
_PLAIN_NAME = _keys("name nom nombre nome naam first last given family")
_ROLE = _keys(
    """
    patient patientin paciente patiente paziente customer client cliente kunde klant employee mitarbeiter
    owner holder contact huesped guest author cardholder
    """
)
_LOCATION = _keys(
    """
    city town ort wohnort stadt ville commune ciudad localidad poblacion citta comune woonplaats plaats stad miasto
    miejscowosc residence hometown birthplace geburtsort lieudenaissance luogodinascita lugardenacimiento
    """
)
_BIRTH = _keys(
    """
    dob birthdate dateofbirth birthday geburtsdatum geburtstag geboortedatum datenaissance datedenaissance ddn
    naissance fechanacimiento fechadenacimiento nacimiento datanascita datadinascita nascita dataurodzenia
    """
)
_RECORD = _keys(
    """
    mrn patientid patientnumber patientno medicalrecord medicalrecordnumber versichertennummer versichertennr
    krankenversichertennummer fallnummer fallnr nhc historiaclinica numerohistoria patientnr patientennummer
    """
)
_ADDRESS_PARTS = ("address", "adresse", "anschrift", "adres", "direccion", "indirizzo")

_JSON_PAIR = re.compile(r'"(?P<key>[^\W\d][\w .-]{0,39})"\s*+:\s*+"(?P<value>[^"\\\n]{1,200})"')
_NAME_VALUE = re.compile(r"[^\W\d_][\w'’.-]*(?:[ ,]+[^\W\d_][\w'’.-]*){0,5}")
_RECORD_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/-]{3,23}")
_HEADER_CELL = re.compile(r"[^\W\d][\w .-]{0,39}")
_SEPARATORS = (";", ",", "\t", "|")
_BESIDE = 160  # characters: how near a given-name field a plain "name" field is read as the surname's


def _normal(key: str) -> str:
    return re.sub(r"[^a-z]", "", fold(key).lower())


def _kind(key: str) -> str | None:
    """The type of a field's values, by its name."""
    if key in _PERSON:
        return "PERSON"
    if key in _PLAIN_NAME:
        return "NAME"  # a person's name or a thing's: decided by its value
    if key in _ROLE:
        return "ROLE"
    if key in _LOCATION:
        return "LOCATION"
    if key in _BIRTH:
        return "DATE_OF_BIRTH"
    if key in _RECORD:
        return "MEDICAL_RECORD_NUMBER"
    if any(part in key for part in _ADDRESS_PARTS) and "mail" not in key and "ip" not in key:
        return "ADDRESS"
    return None


class FieldValues:
    """Typed spans for the values of known fields in JSON and tables; entity types only those configured."""

    def __init__(self, entity_types: frozenset[str]) -> None:
        self._entity_types = entity_types

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        if '"' in text and ":" in text:
            yield from self._json(text)
        if "\n" in text:
            yield from self._tables(text)

    def _json(self, text: str) -> Iterator[tuple[str, int, int]]:
        pairs = [(m, _kind(_normal(m["key"]))) for m in _JSON_PAIR.finditer(text)]
        person_keys = [m.start() for m, kind in pairs if kind == "PERSON"]  # in order: searched by bisection
        for m, kind in pairs:
            if kind is None:
                continue
            # A plain "nom" beside a "prenom" is a surname; elsewhere a plain name must read as a person's.
            k = bisect_left(person_keys, m.start() - _BESIDE)
            beside = k < len(person_keys) and person_keys[k] < m.start() + _BESIDE
            if (found := self._value(kind, m["value"], beside)) is not None:
                yield found, m.start("value"), m.end("value")

    def _value(self, kind: str, value: str, beside_a_name: bool) -> str | None:
        """The type a value under a field of this kind is reported as, or None when it is not one."""
        value = value.strip()
        if not value:
            return None
        if kind in ("PERSON", "NAME", "ROLE"):
            if _NAME_VALUE.fullmatch(value) is None or not any(c.isupper() for c in value):
                return None
            words = value.replace(",", " ").split()
            if kind == "ROLE" and len(words) < 2:
                return None
            if kind != "PERSON" and not beside_a_name and not self._known_name(words):
                return None
            kind = "PERSON"
        elif kind == "LOCATION":
            if _NAME_VALUE.fullmatch(value) is None or not value[0].isupper():
                return None
        elif kind in ("DATE_OF_BIRTH", "ADDRESS"):
            if not any(c.isdigit() for c in value):
                return None
        elif kind == "MEDICAL_RECORD_NUMBER" and (
            _RECORD_VALUE.fullmatch(value) is None or not any(c.isdigit() for c in value)
        ):
            return None
        if kind in ("PERSON", "LOCATION", "ADDRESS") and kind not in self._entity_types:
            return None
        return kind

    @staticmethod
    def _known_name(words: list[str]) -> bool:
        """Whether a word is a common given name ("Mark Whitlock"), so "Production Cluster" is no one."""
        names = name_words(lexicon.load())
        return any(fold(w).lower() in names.common_given for w in words)

    def _tables(self, text: str) -> Iterator[tuple[str, int, int]]:
        lines: list[tuple[int, int]] = []
        start = 0
        for m in re.finditer("\n", text):
            lines.append((start, m.start()))
            start = m.end()
        lines.append((start, len(text)))
        k = 0
        while k < len(lines):
            header = self._header(text, *lines[k])
            if header is None:
                k += 1
                continue
            separator, kinds = header
            person_column = "PERSON" in kinds
            k += 1
            while k < len(lines):
                cells = _cells(text, *lines[k], separator)
                if separator == "|" and all(set(text[s:e]) <= set("-: ") for s, e in cells):
                    k += 1  # a Markdown table's rule
                    continue
                if len(cells) != len(kinds):
                    break
                for kind, (s, e) in zip(kinds, cells, strict=True):
                    if kind is not None and (found := self._value(kind, text[s:e], person_column)) is not None:
                        yield found, s, e
                k += 1

    @staticmethod
    def _header(text: str, start: int, end: int) -> tuple[str, list[str | None]] | None:
        """A table's header line: its separator and each column's kind; None for any other line."""
        line = text[start:end]
        separator = max(_SEPARATORS, key=line.count)
        if line.count(separator) < 1:
            return None
        cells = _cells(text, start, end, separator)
        names = [text[s:e] for s, e in cells]
        if len(cells) < 2 or not all(_HEADER_CELL.fullmatch(n) for n in names):
            return None
        kinds = [_kind(_normal(n)) for n in names]
        return (separator, kinds) if any(kinds) else None


def _cells(text: str, start: int, end: int, separator: str) -> list[tuple[int, int]]:
    """The cells of one line, as stripped (start, end) positions, a quoted cell without its quotes."""
    if separator == "|":
        inner = text[start:end].strip()
        if inner.startswith("|"):
            start = text.index("|", start) + 1
        if inner.endswith("|"):
            end = text.rindex("|", start, end)
    out: list[tuple[int, int]] = []
    pos = start
    while pos <= end:
        if pos < end and text[pos] == '"':
            close = text.find('"', pos + 1, end)
            if close >= 0:
                out.append((pos + 1, close))
                nxt = text.find(separator, close, end)
                pos = (nxt if nxt >= 0 else end) + 1
                continue
        nxt = text.find(separator, pos, end)
        stop = nxt if nxt >= 0 else end
        lo, hi = pos, stop
        while lo < hi and text[lo].isspace():
            lo += 1
        while hi > lo and text[hi - 1].isspace():
            hi -= 1
        out.append((lo, hi))
        pos = stop + 1
    return out
