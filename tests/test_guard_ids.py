"""National identifiers and national phone numbers: found as people write them, validated so that random numbers
are left alone, typed per country, and the phone numbers of a text read in the plans its language suggests."""

from __future__ import annotations

import pytest

from enclave.config import GuardConfig
from enclave.guard.findings import NATIONAL_IDS
from enclave.guard.languages import languages, regions
from enclave.guard.national_ids import NationalIds
from enclave.guard.phones import Phone
from enclave.guard.scanner import Guard
from tests.tracing import lines_run

GUARD = Guard(GuardConfig(entities={"backend": "none"}))  # identifiers only: no names, no model


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in GUARD.find(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Steuer-ID: 36 574 261 809", "DE_TAX_ID", "36 574 261 809"),
        ("Steuerliche Identifikationsnummer 36574261809", "DE_TAX_ID", "36574261809"),
        ("N° de sécurité sociale : 2 95 10 99 126 111 93", "FR_NIR", "2 95 10 99 126 111 93"),
        ("NIR 253072B07300470 (né en Corse)", "FR_NIR", "253072B07300470"),
        ("DNI 54362315-K", "ES_DNI", "54362315-K"),
        ("Mi DNI es 12.345.678-Z.", "ES_DNI", "12.345.678-Z"),
        ("NIE X-2482300-W", "ES_NIE", "X-2482300-W"),
        ("nie x2482300w", "ES_NIE", "x2482300w"),
        ("Codice fiscale: RSSMRA85T10A562S", "IT_FISCAL_CODE", "RSSMRA85T10A562S"),
        ("cod. fisc. rss mra 85t10 a562s", "IT_FISCAL_CODE", "rss mra 85t10 a562s"),
        ("BSN 1112.22.333", "NL_BSN", "1112.22.333"),
        ("burgerservicenummer: 123456782", "NL_BSN", "123456782"),
        ("PESEL 44051401359", "PL_PESEL", "44051401359"),
        ("NI number: AB 12 34 56 C", "UK_NINO", "AB 12 34 56 C"),
        ("Her NINO is AB123456C.", "UK_NINO", "AB123456C"),
        ("National Insurance number AB123456", "UK_NINO", "AB123456"),  # the final letter left out
        ("NHS number 943-476-5870", "UK_NHS_NUMBER", "943-476-5870"),
        ("Né le 30/07/1985, n° 85.07.30-033.28", "BE_NATIONAL_NUMBER", "85.07.30-033.28"),
        ("rijksregisternummer 85073003328", "BE_NATIONAL_NUMBER", "85073003328"),
        ("NIF 123 456 789", "PT_NIF", "123 456 789"),
        ("Cartão de Cidadão 00000000 0 ZZ4", "PT_CC", "00000000 0 ZZ4"),
        ("personnummer 880320-0016", "SE_PERSONNUMMER", "880320-0016"),
        ("personnummer 19880320-0016", "SE_PERSONNUMMER", "19880320-0016"),
        ("CPR-nr. 211062-5629", "DK_CPR", "211062-5629"),
        ("henkilötunnus 131052-308T", "FI_HETU", "131052-308T"),
        ("SV-Nummer 1237 010180", "AT_SV_NUMBER", "1237 010180"),
        ("PPSN 6433435F", "IE_PPS", "6433435F"),
        ("ID number: 111222333", "NL_BSN", "111222333"),  # a general word for an identifier, right beside it
    ],
)
def test_a_valid_national_identifier_is_found_as_written_with_its_own_type(text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(text)
    assert GUARD.scan([text]).data_class is not None


@pytest.mark.parametrize(
    "text",
    [
        "Steuer-ID: 36 574 261 808",
        "DNI 54362315-Z",
        "NIE X-2482300-A",
        "codice fiscale RSSMRA85T10A562T",
        "BSN 1112.52.333",
        "PESEL 44051401358",
        "NIR 2 95 10 99 126 111 99",
        "85.07.30-033.29",
        "personnummer 880320-0018",
        "henkilötunnus 131052-308U",
        "SV-Nummer 1238 010180",
        "PPSN 6433435E",
        "NHS number 943 476 5871",
        "QQ 12 34 56 C and GB 12 34 56 A",  # prefixes HMRC never issues
        "contribuinte 501 964 843",  # a company's NIF: valid, but no person's
    ],
)
def test_a_wrong_check_digit_or_rule_is_no_identifier(text: str) -> None:
    assert [kind for kind, _ in found(text) if kind in NATIONAL_IDS or kind == "UK_NHS_NUMBER"] == []


@pytest.mark.parametrize(
    "text",
    [
        "Order 111222333 shipped on Monday.",  # passes the BSN's eleven-test
        "Invoice 36574261809 is paid.",  # a valid Steuer-ID's digits
        "Ticket 44051401359 was closed.",  # a valid PESEL's digits
        "Ref 211062-5629, batch 85073003328.",  # a CPR's date and four digits; a Belgian number's digits
    ],
)
def test_digits_that_only_a_short_check_validates_need_a_word_naming_the_identifier(text: str) -> None:
    assert found(text) == []


def test_a_table_names_its_column_once_in_its_header() -> None:
    table = "name,pesel,city\nAnna,44051401359,Warszawa\nTomasz,02070803628,Łódź\n"
    assert found(table) == [("PL_PESEL", "44051401359"), ("PL_PESEL", "02070803628")]
    nhs = "nhs_number,ward\n943 476 5870,Ward 14\n448 857 1565,Ward 2"
    assert [kind for kind, _ in found(nhs)] == ["UK_NHS_NUMBER", "UK_NHS_NUMBER"]


def test_each_identifier_type_can_be_classed_on_its_own() -> None:
    guard = Guard(GuardConfig(entities={"backend": "none"}, entity_classes={"PL_PESEL": "restricted"}))
    assert guard.scan(["PESEL 44051401359"]).data_class == "restricted"
    assert guard.scan(["BSN 123456782"]).data_class == "confidential"
    assert guard.scan(["PESEL 44051401359"]).counts == {"PL_PESEL": 1}


@pytest.mark.parametrize(
    ("text", "number", "region"),
    [
        ("Sie erreichen mich unter 030 1234567 oder per Mail.", "030 1234567", "DE"),
        ("Rufen Sie mich bitte unter (030) 1234567 an.", "(030) 1234567", "DE"),
        ("Ich bin unter 0221 / 123 45 67 erreichbar.", "0221 / 123 45 67", "DE"),
        ("Vous pouvez me joindre au 06 12 34 56 78 demain.", "06 12 34 56 78", "FR"),
        ("Puede llamarme al 612 34 56 78 por la tarde.", "612 34 56 78", "ES"),
        ("Sono raggiungibile al 347 123 4567 dopo le sei.", "347 123 4567", "IT"),
        ("U kunt mij bereiken op 020 123 4567 na vijf uur.", "020 123 4567", "NL"),
        ("Proszę dzwonić na 601 234 567 po południu.", "601 234 567", "PL"),
        ("Please ring me on 020 7946 0958 after lunch.", "020 7946 0958", "GB"),
        ("new lead: mario rossi, mario.rossi@libero.it, 030 241 8876", "030 241 8876", "IT"),  # the domain says
    ],
)
def test_a_national_phone_number_is_read_in_the_plan_of_the_texts_language(text: str, number: str, region: str) -> None:
    assert regions(text)[0] == region
    assert [finding for finding in found(text) if finding[0] == "PHONE_NUMBER"] == [("PHONE_NUMBER", number)]


@pytest.mark.parametrize(
    "text",
    [
        "Order 06 12 34 56 78 arrived with the rest.",  # a French mobile's digits, in English: no UK number
        "Der Auftrag 612 34 56 78 ist angekommen.",  # a Spanish mobile's digits, in German: no trunk 0
        "Der Termin ist am 21.03.2024, die Rechnung 2024-00123.",  # a date and an invoice number, not phones
        "Kundennummer 202400123, bitte angeben.",  # valid in Germany's plan only after a trunk 0
    ],
)
def test_digits_are_not_a_phone_number_in_a_plan_the_text_gives_no_reason_for(text: str) -> None:
    assert [kind for kind, _ in found(text) if kind == "PHONE_NUMBER"] == []


def test_language_cues_name_the_languages_of_a_mixed_thread() -> None:
    thread = "Hallo Frau Weber, danke für die Nachricht. > Bonjour, merci pour votre message, je vous rappelle."
    assert set(languages(thread)) == {"de", "fr"}
    assert languages("42 17 99") == []
    assert regions("42 17 99") == ["GB", "IE"]  # nothing points elsewhere: English plans, beside the US one


@pytest.mark.parametrize(
    "unit",
    [
        "1 ",  # one run of groups, as long as the text
        "BSN 111 222 333 ",  # valid identifiers, each named
        "12.34.56-78 ",  # separators of every kind in one run
        "Rufen Sie 030 1234567 an. ",  # national phone numbers, each parsed
        "X1234567L RSSMRA85T10A562S ",  # distinctive formats
    ],
)
def test_identifiers_and_phones_are_read_in_time_linear_in_the_text(unit: str) -> None:
    def text(size: int) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    for recognizer in (NationalIds(), Phone()):

        def find(t: str, recognizer: NationalIds | Phone = recognizer) -> object:
            return list(recognizer.find(t))

        small, large = lines_run(find, text(2_000)), lines_run(find, text(8_000))
        assert large <= 5 * small, f"{type(recognizer).__name__} on {unit!r}: {small} lines, then {large}"
