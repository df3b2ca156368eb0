"""Recognizers for what is personal data only beside a person: they read a text that already names someone.

A date after "MRI on", a number after "Chart number", are a patient's in a note about Mrs Ahmed and nobody's in
a ticket about the MRI scanner's maintenance or a dashboard's charts. The words alone cannot tell the two apart;
the person can. So these recognizers run in a second pass, over a text in which the first pass found a value that
points at one person (a name, an e-mail address, a phone number, a birth date, an identifier), and never over a
text without one: a text in which nothing personal was found stays clean, whatever words it holds.
"""

from __future__ import annotations

from enclave.guard.dates import PersonalDates
from enclave.guard.findings import NATIONAL_IDS
from enclave.guard.recognizers import Recognizer
from enclave.guard.record_numbers import RecordNumbers

# What points at one person. Not a place, an IP address, an organisation, a date of care or a secret: each can
# stand in a text about no one.
IDENTIFYING = frozenset(
    {
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "ADDRESS",
        "DATE_OF_BIRTH",
        "MEDICAL_RECORD_NUMBER",
        "UK_NHS_NUMBER",
        "US_SSN",
        "IBAN",
        "CREDIT_CARD",
        *NATIONAL_IDS,
    }
)


def near_person(dates: str) -> list[Recognizer]:
    """The second pass's recognizers for guard.dates' mode (``birth`` and ``all`` add no dates of care: the
    first reports birth dates only, the second every date already)."""
    found: list[Recognizer] = [RecordNumbers()]
    if dates == "personal":
        found.append(PersonalDates(dates, near_person=True))
    return found
