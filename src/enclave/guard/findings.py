"""What the guard finds, and what each kind of finding means for where the data may go."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from enclave.config import DATA_CLASSES, DataClass

# Entity types the built-in recognizers report, with the data class each one implies.
PCI = {"CREDIT_CARD": "restricted", "IBAN": "restricted"}
PHI = {"MEDICAL_RECORD_NUMBER": "restricted", "UK_NHS_NUMBER": "restricted"}
SECRETS = {"SECRET": "restricted"}
PII = {
    "US_SSN": "confidential",
    "EMAIL_ADDRESS": "confidential",
    "PHONE_NUMBER": "confidential",
    "IP_ADDRESS": "confidential",
    "DATE_OF_BIRTH": "confidential",
    "DATE": "confidential",
    "EMPLOYEE_ID": "confidential",
}
# National identifiers (guard.national_ids), each its own type so each can be classed on its own; like US_SSN,
# identifying but not of a special category by themselves (UK_NHS_NUMBER, a health identifier, is under PHI).
NATIONAL_IDS = dict.fromkeys(
    (
        "DE_TAX_ID",
        "FR_NIR",
        "ES_DNI",
        "ES_NIE",
        "IT_FISCAL_CODE",
        "NL_BSN",
        "PL_PESEL",
        "UK_NINO",
        "BE_NATIONAL_NUMBER",
        "PT_NIF",
        "PT_CC",
        "SE_PERSONNUMMER",
        "DK_CPR",
        "FI_HETU",
        "AT_SV_NUMBER",
        "IE_PPS",
    ),
    "confidential",
)
# Named entities (from the configured NER backend): personal data, but not of a special category by themselves.
ENTITIES = {
    "PERSON": "confidential",
    "LOCATION": "confidential",
    "ADDRESS": "confidential",
    "ORGANIZATION": "confidential",
}
GUARD_ERROR = "GUARD_ERROR"
DENY_TERM = "DENY_TERM"  # a term of guard.deny_terms
DEFAULT_CLASSES: dict[str, DataClass] = {**PCI, **PHI, **SECRETS, **PII, **NATIONAL_IDS, **ENTITIES}  # type: ignore[dict-item]


@dataclass(frozen=True, slots=True)
class Finding:
    """One sensitive value: where it is, never what it is, outside the request that carried it."""

    entity_type: str
    start: int
    end: int
    message: int = 0  # which text of the request: the message's index, or later texts (see guard.texts)

    def overlaps(self, other: Finding) -> bool:
        return self.message == other.message and self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class GuardReport:
    findings: tuple[Finding, ...] = ()
    data_class: DataClass | None = None  # the class the findings imply; None when nothing was found
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, findings: list[Finding], classes: dict[str, DataClass]) -> GuardReport:
        counts = dict(Counter(f.entity_type for f in findings))
        implied = [classes.get(t, "confidential") for t in counts]
        data_class = max(implied, key=DATA_CLASSES.index) if implied else None
        return cls(tuple(findings), data_class, counts)

    @property
    def failed(self) -> bool:
        """The guard could not inspect the request: it must be treated as restricted, whatever the action."""
        return GUARD_ERROR in self.counts

    def summary(self) -> str:
        """Types and counts, never values: safe for logs, headers, errors and audit."""
        return ", ".join(f"{t}={n}" for t, n in sorted(self.counts.items()))
