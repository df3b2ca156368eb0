r"""Recognizers for structured identifiers: a pattern finds candidates, a validator keeps the real ones.

Checksums and numbering rules come from python-stdnum and Google's phonenumbers, not hand-written code, so a
16-digit order number that fails Luhn is not a card and 000-12-3456 is not an SSN. Every pattern is compiled
once, at import, and reads a text in time linear in its length: where two runs of spaces meet around an optional
colon ("MRN : X"), the runs are possessive (``\s*+``), or a long run of spaces would be split between them every
way there is before the pattern gave up.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Iterator
from typing import Protocol

from stdnum import iban, luhn
from stdnum.us import ssn

from enclave.guard.credentials import Secret
from enclave.guard.national_ids import NationalIds
from enclave.guard.phones import Phone


class Recognizer(Protocol):
    """Finds one or more entity types in a text; yields (entity_type, start, end)."""

    def find(self, text: str) -> Iterator[tuple[str, int, int]]: ...


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


# Card networks by number prefix and the lengths they issue (ISO/IEC 7812 ranges as the networks publish them).
_CARD_NETWORKS = (
    (re.compile(r"4"), (13, 16, 19)),  # Visa
    (re.compile(r"5[1-5]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)"), (16,)),  # Mastercard
    (re.compile(r"3[47]"), (15,)),  # American Express
    (re.compile(r"6(?:011|5|4[4-9]|22)"), (16, 17, 18, 19)),  # Discover
    (re.compile(r"3(?:0[0-5]|[689])"), (14, 15, 16, 17, 18, 19)),  # Diners Club
    (re.compile(r"35(?:2[89]|[3-8]\d)"), (16, 17, 18, 19)),  # JCB
    (re.compile(r"62"), (16, 17, 18, 19)),  # UnionPay
    (re.compile(r"5[06-9]|6\d"), (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
)


def _is_card_number(digits: str) -> bool:
    issued = any(prefix.match(digits) and len(digits) in lengths for prefix, lengths in _CARD_NETWORKS)
    return issued and luhn.is_valid(digits)


class CreditCard:
    """A number is a card when an issuer's range and Luhn agree, or when the text says "card" and Luhn agrees
    (issuers' ranges change and older ones, like JCB's 15-digit 1800 and 2131, fall out of published tables)."""

    _pattern = re.compile(r"(?<![\w-])(?:\d[ -]?){11,18}\d(?![\w-])")
    _context = re.compile(r"(?i:card|\bcc\b|visa|mastercard|amex|discover|jcb|maestro|diners)")

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for m in self._pattern.finditer(text):
            digits = _digits(m.group())
            if _is_card_number(digits) or (
                luhn.is_valid(digits) and self._context.search(text, max(0, m.start() - 40), m.start())
            ):
                yield "CREDIT_CARD", m.start(), m.end()


class Iban:
    _pattern = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for m in self._pattern.finditer(text):
            if iban.is_valid(m.group()):
                yield "IBAN", m.start(), m.end()


class UsSsn:
    # Formatted numbers anywhere; a bare nine-digit number only right after "SSN" or "social security".
    _pattern = re.compile(
        r"\b\d{3}([- ])\d{2}\1\d{4}\b|(?i:\b(?:ssn|social security(?: number| no\.?)?)\s*+(?:[:#]\s*+)?)(\d{9})\b"
    )

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for m in self._pattern.finditer(text):
            start, end = (m.start(2), m.end(2)) if m.group(2) else (m.start(), m.end())
            if ssn.is_valid(_digits(text[start:end])):
                yield "US_SSN", start, end


class Email:
    _pattern = re.compile(r"\b[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}\b")
    _local = string.ascii_letters + string.digits + "._%+-"
    _boundary = re.compile(r"\b")

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        # Read from each "@" back: the pattern alone would read a local part again from every word boundary in
        # it ("a.b.c.d..."), though every start in one run of local-part characters reaches the same "@" and
        # fails or succeeds there alike; the run's first start decides, as the pattern's leftmost match would.
        pos = 0  # where the previous address ended, or past the previous "@"
        while (at := text.find("@", pos)) >= 0:
            before = text[pos:at]
            run = at - (len(before) - len(before.rstrip(self._local)))
            start = self._boundary.search(text, run, at)
            m = self._pattern.match(text, start.start()) if start is not None and start.start() < at else None
            if m is not None:
                yield "EMAIL_ADDRESS", m.start(), m.end()
            pos = at + 1 if m is None else m.end()


class IpAddress:
    _v4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
    # "version 1.2.3.4", "v2.0.1.7": dotted version numbers look exactly like addresses.
    _version = re.compile(r"(?:version|release|build|\bv)\s*$", re.IGNORECASE)
    _v6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for pattern in (self._v4, self._v6) if ":" in text else (self._v4,):
            for m in pattern.finditer(text):
                try:
                    address = ipaddress.ip_address(m.group())
                except ValueError:
                    continue
                if address.is_loopback or address.is_unspecified:
                    continue
                if self._version.search(text, max(0, m.start() - 12), m.start()):
                    continue
                yield "IP_ADDRESS", m.start(), m.end()


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_WRITTEN_DATE = rf"\d{{1,2}} {_MONTH} \d{{4}}|{_MONTH} \d{{1,2}},? \d{{4}}"  # 5 March 1953, March 5, 1953


class FullDate:
    """Every full calendar date, day, month and year, whatever it dates (guard.dates: all)."""

    # A two-digit year only after slashes (5/25/53); never inside a longer dotted number (a version, an address).
    _pattern = re.compile(
        r"(?<![\w./:-])(?:(?P<iso>\d{4}-\d{2}-\d{2})|(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)"
        rf"(?:\d{{4}}|(?<=/)\d{{2}})|{_WRITTEN_DATE})(?=T\d|(?![\w/-]|[.:]\d))",
        re.IGNORECASE,
    )

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for m in self._pattern.finditer(text):
            if m["iso"]:
                _, month, day = (int(part) for part in m["iso"].split("-"))
                valid = 1 <= month <= 12 and 1 <= day <= 31
            elif m["a"]:
                a, b = int(m["a"]), int(m["b"])  # 5/25/1953 or 25.5.1953: either order, one must be a month
                valid = 1 <= min(a, b) <= 12 and max(a, b) <= 31
            else:
                valid = True
            if valid:
                yield "DATE", m.start(), m.end()


class MedicalRecordNumber:
    """A patient's record or case number after the words that name it, in the guard's seven languages.

    Words that only a record number follows ("MRN", "Patienten-Nr.", "NHC", "n° de dossier médical",
    "cartella clinica n.", "patiëntnummer", "nr historii choroby", "Hospital No") are read anywhere; words that
    number other things as well ("Fall-Nr.", "case no.", "n° de dossier", "dossiernummer", "ref") only in a text
    about a patient's care, so a support ticket's case number is left alone. The number must contain a digit.
    """

    # The cues, then after the cue's last letter (or its "n°") the number, in capitals and digits as records
    # print them. One pass over the text: the group "case" says which kind of cue stood before it.
    _pattern = re.compile(
        r"(?i:\b(?:mrn|medical record(?: number| no\.?| #)?|patient id|patient(?:en)?[- ]?(?:nr|nummer|number|no)"
        r"|pati[ëe]nt ?nummer|hospital (?:no|number|#)|nhc|(?:n[º°o]\.? ?de )?historia cl[íi]nica(?: n[º°o])?"
        r"|(?:n[º°o]\.? ?de |num[ée]ro de )dossier (?:m[ée]dical|patient)|dossier m[ée]dical(?: n[º°o])?|ipp"
        r"|cartella clinica(?: n|nr| numero| n[º°])?|(?:nr|numer) historii choroby|historia choroby(?: nr)?"
        r"|(?P<case>fall-?(?:nr|nummer)|aufnahme-?nr|case (?:no|number|#)|(?:n[º°o]\.? ?de |num[ée]ro de )dossier"
        r"|dossiernummer|ref))"
        r"(?![^\W\d_])\.?\s*+(?:[:#]\s*+)?)([A-Z0-9][A-Z0-9/-]{4,19})\b"
    )
    # Words of a patient's care: where they stand, a case or reference number is a patient's.
    _CARE = re.compile(
        r"(?i:\b(?:pat|patient\w*|pati[ëe]nt\w*|paciente|paziente|pacjent\w*|diagnos\w*|klinik\w*"
        r"|clinic\w*|cl[íi]nic\w*|hospital\w*|krankenhaus|ziekenhuis|szpital\w*|ospedale|h[ôo]pital"
        r"|aufnahme|admitted|admission|ingreso|ricovero|opname|dob|geb|geburtsdatum|therap\w*|ward)\b)"
    )

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        care: bool | None = None  # asked of the text once, at its first case number
        for m in self._pattern.finditer(text):
            if not any(c.isdigit() for c in m.group(2)):
                continue
            if m["case"] is not None:
                if care is None:
                    care = self._CARE.search(text) is not None
                if not care:
                    continue
            yield "MEDICAL_RECORD_NUMBER", m.start(2), m.end(2)


class Custom:
    """Patterns and deny-list terms from enclave.yaml (project code names, employee ids, ...)."""

    def __init__(self, entity_type: str, pattern: re.Pattern[str]) -> None:
        self._type = entity_type
        self._pattern = pattern

    @classmethod
    def terms(cls, entity_type: str, terms: list[str]) -> Custom:
        alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
        return cls(entity_type, re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE))

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for m in self._pattern.finditer(text):
            yield self._type, m.start(), m.end()


def builtin() -> list[Recognizer]:
    return [
        Secret(),
        CreditCard(),
        Iban(),
        UsSsn(),
        NationalIds(),  # before Phone: a number both claim, beside a word naming the identifier, is that identifier
        Email(),
        Phone(),
        IpAddress(),
        MedicalRecordNumber(),
    ]
