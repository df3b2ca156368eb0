"""Phone numbers: international ones anywhere, national ones in the numbering plans the text's language suggests.

A number written without its country code ("030 1234567", "06 12 34 56 78") is valid only in some country's plan,
and which one the number alone cannot say. Google's phonenumbers validates it once a region is given; the region
comes from the text's language (``guard.languages``: a German text's national numbers are tried as German,
Austrian and Swiss ones, a text without a cue as British and Irish ones), with the US plan always tried, as
before. Trying a plan is one parse of one candidate (tens of microseconds), done only for candidates nothing else
claimed and written as that plan writes its numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata

from enclave.guard.languages import LANGUAGE_REGIONS, regions

_NON_DIGIT = re.compile(r"\D")

# The trunk prefix each plan writes before a national number ("0" in Germany and France; none in Spain, Italy,
# Poland, Portugal, Denmark). Read once here: phonenumbers loads a region's metadata on first use.
_TRUNK: dict[str, str | None] = {
    region: metadata.national_prefix
    for region in sorted({r for rs in LANGUAGE_REGIONS.values() for r in rs})
    if (metadata := PhoneMetadata.metadata_for_region(region)) is not None
}


class Phone:
    """Numbers valid in Google's numbering plans: international ones, and national ones in the default region's
    plan or in the plans of the text's language; and, where the text says phone, call, fax or mobile (in the
    languages the guard reads), a number of 8 to 15 digits in the grouped form of any country's local plan (these
    cannot be validated without knowing the country; 7 digits is too short to tell from other numbers without it).
    """

    _enough_digits = re.compile(r"(?:\d\D{0,3}){6}")
    _local = re.compile(  # (07700) 467763: a UK trunk code in brackets has five digits
        r"(?<![\w.+/-])\+?(?:\(\d{1,5}\)|\d)(?:[ .-]?(?:\(\d{1,5}\)|\d)){5,16}(?:\s?x\d{1,5})?(?![\w/])"
    )
    _context = re.compile(
        r"(?i:phone|call|mobile|cell|tel\b|fax|desk|office|reach|text me|whatsapp|sms|dial"
        r"|answering|registered|number|messages? to"
        r"|telef|t[ée]l[.:]|handy|mobil|portable|m[óo]vil|cellulare|bellen|kom[óo]rk|puhelin|rufnummer)"
    )
    # Six or seven digits (412 8721, 84 23 30: local numbers without an area code) only in grouped form and right
    # beside a word that says phone: "call 412 8721", "Phone: 355 4292", "34 76 31 office".
    _short_before = re.compile(
        r"(?i:\b(?:phone|tel|mobile|cell|fax|desk|call(?: me)?|reach me|text me|sms|whatsapp"
        r"|messages? to|(?:my|your) registered)(?: (?:on|at))?(?: number)?\s*[:#]?\s*)$"
    )
    _short_after = re.compile(r"(?i:\s*+(?:[-(]\s*+)?(?:office|mobile|cell|fax|phone|tel|home|work)\b)")
    _fictional = re.compile(r"555[ .-]01\d\d")  # NANP reserves 555-0100 to 555-0199 for films and examples
    _grouped = re.compile(r"\d{2,4}(?:[ .-]\d{2,4}){1,2}")
    # A national number as people write one: groups of digits, an area code in brackets or before a slash
    # ("(030) 1234567", "030/1234567", "0221 / 123 45 67"); 6 to 14 digits.
    _national = re.compile(r"(?<![\w.+/-])(?:\(0\d{1,5}\) ?|0\d{1,5} ?/ ?|\d)(?:[ .-]?\d){5,13}(?![\w/]|[.-]\d)")
    _date = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}")  # 21.03.2024, 2024-03-21: valid numbers in some plans

    def __init__(self, region: str = "US") -> None:
        self._region = region
        metadata = PhoneMetadata.metadata_for_region(region)
        assert metadata is not None and metadata.general_desc is not None, f"no numbering plan for {region}"
        shortest = min(metadata.general_desc.possible_length)
        # PhoneNumberMatcher reads blocks of digits parted by at most four punctuation marks ("x" and "ー" among
        # them): it can accept a number only where the text has a plus sign or as many digits as the region's
        # shortest number, so parted. It costs tens of microseconds a candidate (a date, a time, an amount), so it
        # is only run where it can find something (on the realistic corpus's dev texts: 83 of the 150 with digits).
        self._matcher_may_find = re.compile(rf"[+＋]|\d(?:(?:[\W_]|[xー]){{0,4}}\d){{{shortest - 1}}}")

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        if not self._enough_digits.search(text):
            return
        found: set[tuple[int, int]] = set()
        if self._matcher_may_find.search(text):
            for match in phonenumbers.PhoneNumberMatcher(text, self._region, leniency=phonenumbers.Leniency.VALID):
                found.add((match.start, match.end))
        for m in self._local.finditer(text):
            digits = len(_NON_DIGIT.sub("", m.group()))
            near = text[max(0, m.start() - 30) : m.start()] + text[m.end() : m.end() + 10]
            if (8 <= digits <= 15 and self._context.search(near)) or (digits in (6, 7) and self._short(text, m)):
                found.add(m.span())
        plans: list[str] | None = None  # the text's plans, read once and only if a candidate needs them
        for m in self._national.finditer(text):
            if m.span() in found or self._date.fullmatch(m.group()):
                continue
            if plans is None:
                plans = [r for r in regions(text) if r != self._region]
            if any(self._national_number(m.group(), plan) for plan in plans):
                found.add(m.span())
        for start, end in sorted(found):
            yield "PHONE_NUMBER", start, end

    def _short(self, text: str, m: re.Match[str]) -> bool:
        """A six- or seven-digit number in groups, with a phone word right before or right after it."""
        if not self._grouped.fullmatch(m.group()) or self._fictional.fullmatch(m.group()):
            return False
        return bool(
            self._short_before.search(text, max(0, m.start() - 30), m.start()) or self._short_after.match(text, m.end())
        )

    @staticmethod
    def _national_number(candidate: str, region: str) -> bool:
        """A number valid in ``region``'s plan and written as that plan writes one: after its trunk prefix where
        the plan has one ("030 ...", not "30 ..."), in groups where it has none ("612 34 56 78": a bare run of
        nine digits is as likely an order number; with a phone word near it is found all the same). The form is
        checked first: it rules out most candidates without the cost of a parse."""
        trunk = _TRUNK.get(region)
        if trunk:
            if not candidate.lstrip("(").startswith(trunk):
                return False
        elif candidate.isdigit():
            return False
        try:
            number = phonenumbers.parse(candidate, region)
        except NumberParseException:
            return False
        return phonenumbers.is_valid_number_for_region(number, region)
