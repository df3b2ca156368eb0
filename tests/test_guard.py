"""The privacy guard on real text: identifiers found and validated, look-alikes left alone."""

from __future__ import annotations

import asyncio

import pytest

from enclave.assembly import build_gateway
from enclave.config import GuardConfig, Settings
from enclave.engines.base import ChatMessage, GenerationRequest
from enclave.errors import GuardBlocked
from enclave.gateway import InferenceCall
from enclave.guard.scanner import Guard

# Identifiers only: named entities ("London office") have their own tests in test_guard_ner.py.
GUARD = Guard(
    GuardConfig(
        custom_patterns=[{"name": "EMPLOYEE_ID", "pattern": r"\bEMP-\d{6}\b"}],
        deny_terms=["Project Falcon", "BLUEBIRD"],
        entities={"backend": "none"},
    )
)


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in GUARD.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Charge my Visa 4111 1111 1111 1111 please.", [("CREDIT_CARD", "4111 1111 1111 1111")]),
        ("Amex 3782-822463-10005 on file.", [("CREDIT_CARD", "3782-822463-10005")]),
        ("Mastercard 5555555555554444.", [("CREDIT_CARD", "5555555555554444")]),
        ("Wire to DE89 3704 0044 0532 0130 00 today.", [("IBAN", "DE89 3704 0044 0532 0130 00")]),
        ("IBAN GB82WEST12345698765432.", [("IBAN", "GB82WEST12345698765432")]),
        ("Her SSN is 536-90-4399.", [("US_SSN", "536-90-4399")]),
        ("SSN: 536904399", [("US_SSN", "536904399")]),
        ("NHS number 943 476 5919 on the referral.", [("UK_NHS_NUMBER", "943 476 5919")]),
        ("Reach me at jane.doe+work@example.co.uk.", [("EMAIL_ADDRESS", "jane.doe+work@example.co.uk")]),
        ("Call (415) 555-2671 after five.", [("PHONE_NUMBER", "(415) 555-2671")]),
        ("London office: +44 20 7946 0958.", [("PHONE_NUMBER", "+44 20 7946 0958")]),
        ("The server at 192.168.10.24 is down.", [("IP_ADDRESS", "192.168.10.24")]),
        ("Reach 2001:db8:85a3::8a2e:370:7334 over v6.", [("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334")]),
        ("key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", [("SECRET", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t")]),
        ("aws AKIAIOSFODNN7EXAMPLE here", [("SECRET", "AKIAIOSFODNN7EXAMPLE")]),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", [("SECRET", "ghp_abcdefghijklmnopqrstuvwxyz0123456789")]),
        ("password = hunter2hunter2", [("SECRET", "hunter2hunter2")]),
        ("Can someone call me on 413 4270?", [("PHONE_NUMBER", "413 4270")]),  # local, no area code
        ("Phone: 84 23 30", [("PHONE_NUMBER", "84 23 30")]),
        ("34 76 31 office", [("PHONE_NUMBER", "34 76 31")]),
        ("Desk: (07700) 467763", [("PHONE_NUMBER", "(07700) 467763")]),  # a UK trunk code in brackets
        ("Stop sending messages to 9761 9808", [("PHONE_NUMBER", "9761 9808")]),
        ("No message on my registered 66 72 64.", [("PHONE_NUMBER", "66 72 64")]),
        ("He was born on 12/03/1984 in Leeds.", [("DATE_OF_BIRTH", "12/03/1984")]),
        ("DOB: March 4, 1990", [("DATE_OF_BIRTH", "March 4, 1990")]),
        ("MRN: 00451-778 admitted Tuesday.", [("MEDICAL_RECORD_NUMBER", "00451-778")]),
        ("Badge EMP-004512 expired.", [("EMPLOYEE_ID", "EMP-004512")]),
        ("The project falcon budget and bluebird plans.", [("DENY_TERM", "project falcon"), ("DENY_TERM", "bluebird")]),
    ],
)
def test_identifier_is_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Order number 4111 1111 1111 1112 shipped.",  # fails Luhn
        "Tracking 1234567890123456.",  # fails Luhn
        "Account DE89 3704 0044 0532 0130 01.",  # fails mod-97
        "Not an SSN: 000-12-3456 or 666-45-6789 or 123-00-4567.",  # impossible areas and groups
        "Call 555-0100.",  # NANP reserves 555-0100 to 555-0199 for fiction and examples
        "Version 1.2.3.4 and 999.10.10.10 are not addresses; localhost is 127.0.0.1.",
        "Email me at the usual address.",
        "We sold 1,234,567 units in 2023 for $4,111,111.",
        "The sk-short key and a token of 5 chars.",
        "Chapter 12, verse 3: the ward round is at 10:30.",
        # Six or seven digits without a phone word right beside them are counts, ids and timings.
        "The build took 412 8721 ms and moved 84 23 30 rows.",
        "Order 123 456 shipped; invoice 4128721 is paid.",
        "Call the function with 412 8721 as the seed.",  # "call" is there, but not in front of the number
    ],
)
def test_look_alikes_are_not_flagged(text: str) -> None:
    assert found(text) == []


def test_a_date_is_personal_data_where_the_text_ties_it_to_a_person() -> None:
    # A birth date in any of the guard's languages, and the dates of a person's stay or operation, are found; a
    # release date, a meeting, a log's timestamp are not.
    text = (
        "DOB 12/03/1984. Aufnahme am 02.06.2025, Entlassung am 09.06.2025. nata a Bari il 3 maggio 1970. "
        "Séjour du 02/04/2025 au 06/04/2025. Operada 10/06. "
        "Release on 2025-08-14; the meeting is on 12/03/2024; 2025-06-12T03:14:07Z INFO started."
    )
    assert found(text) == [
        ("DATE_OF_BIRTH", "12/03/1984"),
        ("DATE", "02.06.2025"),
        ("DATE", "09.06.2025"),
        ("DATE_OF_BIRTH", "3 maggio 1970"),
        ("DATE", "02/04/2025"),
        ("DATE", "06/04/2025"),
        ("DATE", "10/06"),
    ]
    assert GUARD.scan(["The meeting is on 12/03/2024."]).data_class is None


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("Tom has been off sick since 03/02/2025, back on Monday.", "03/02/2025"),
        ("She was signed off from 12 March 2025 for two weeks.", "12 March 2025"),
        ("Die Krankmeldung vom 03.02.2025 liegt der Personalabteilung vor.", "03.02.2025"),
        ("Herr K. ist krankgeschrieben seit 14.01.2025.", "14.01.2025"),
        ("La trabajadora está de baja médica desde el 12/03/2025.", "12/03/2025"),
        ("Le salarié est en arrêt maladie depuis le 05/02/2025.", "05/02/2025"),
        ("Il collega è in malattia dal 10/01/2025 fino a nuovo avviso.", "10/01/2025"),
        ("Mijn collega heeft zich ziek gemeld op 07-02-2025.", "07-02-2025"),
        ("Pracownik jest na zwolnieniu lekarskim od 04.03.2025.", "04.03.2025"),
    ],
)
def test_a_date_of_sick_leave_is_a_date_of_a_persons_health(text: str, date: str) -> None:
    assert found(text) == [("DATE", date)]


@pytest.mark.parametrize(
    "text",
    [
        "The design was signed off on 12/03/2025 by the board.",  # an approval, not a doctor's note
        "El cliente dio de baja la cuenta el 12/03/2025.",  # an account closed
        "The L4 load balancer has been up since 2025-01-02.",  # a network layer, not the Polish sick note
    ],
)
def test_words_like_those_of_sick_leave_date_nothing_personal(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Patienten-Nr.: 8812345, Station 4B", "8812345"),
        ("Paciente remitido desde urgencias. NHC: 448812", "448812"),
        ("historia clínica nº 5530127, revisión anual", "5530127"),
        ("Numéro de dossier médical 88-1234 à rappeler.", "88-1234"),
        ("Vedi cartella clinica n. AN2025-00451 per il decorso.", "AN2025-00451"),
        ("Patiëntnummer 7712345 staat op het etiket.", "7712345"),
        ("Proszę podać nr historii choroby: 12345/2025", "12345/2025"),
        ("Hospital No. H1234567, seen in the fracture clinic.", "H1234567"),
        # Words that number other things too: read where the text is about a patient's care.
        ("Pat. Weber, 64 J., Fall-Nr. 2024-0071234, Aufnahme über die Notaufnahme.", "2024-0071234"),
        ("Case no. 55231: patient reviewed in clinic, bloods repeated.", "55231"),
        ("Patiente vue ce matin, n° de dossier 2025A00123.", "2025A00123"),
    ],
)
def test_a_medical_record_number_is_found_after_the_words_that_name_it(text: str, number: str) -> None:
    assert ("MEDICAL_RECORD_NUMBER", number) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Support case no. 55231: the login page times out.",
        "N° de dossier 2025A00123 pour votre demande de subvention.",
        "Dossiernummer 123456 voor uw verzekering.",
        "The hospital no longer takes walk-ins after 18:00.",
    ],
)
def test_a_case_number_outside_a_patients_care_is_no_record_number(text: str) -> None:
    assert "MEDICAL_RECORD_NUMBER" not in [kind for kind, _ in found(text)]


def test_dates_birth_reports_birth_dates_only_and_dates_all_every_full_date() -> None:
    text = "Geb. 14.01.1958, aufgenommen am 22.05.2025; Release am 01.10.2025, 5/25/1953, March 5, 1953."
    birth = Guard(GuardConfig(dates="birth", entities={"backend": "none"}))
    assert [(f.entity_type, text[f.start : f.end]) for f in birth.find(text)] == [("DATE_OF_BIRTH", "14.01.1958")]
    every = Guard(GuardConfig(dates="all", entities={"backend": "none"}))
    assert [(f.entity_type, text[f.start : f.end]) for f in every.find(text)] == [
        ("DATE_OF_BIRTH", "14.01.1958"),
        ("DATE", "22.05.2025"),
        ("DATE", "01.10.2025"),
        ("DATE", "5/25/1953"),
        ("DATE", "March 5, 1953"),
    ]
    not_dates = "Not dates: version 1.10.12, ratio 1/2/3, 13/13/2020, 2024-13-01, 10.12.2020.5, May 2020."
    assert every.find(not_dates) == []


def test_pasted_records_are_read_by_their_field_names() -> None:
    # The field says what a value is where the value alone could not: a first name that is a word, a city, an
    # identifier, a birth date in a column.
    guard = Guard(GuardConfig())
    table = "first_name;last_name;dob;city\nHope;Carver;1971-04-02;Leeds\nMax;Ortiz;1988-11-30;Bilbao"
    assert [(f.entity_type, table[f.start : f.end]) for f in guard.find(table)] == [
        ("PERSON", "Hope"),
        ("PERSON", "Carver"),
        ("DATE_OF_BIRTH", "1971-04-02"),
        ("LOCATION", "Leeds"),
        ("PERSON", "Max"),
        ("PERSON", "Ortiz"),
        ("DATE_OF_BIRTH", "1988-11-30"),
        ("LOCATION", "Bilbao"),
    ]
    record = '{"patient_id": "K-20931", "nom": "Caron", "prenom": "Inès", "ville": "Lille", "service": "ORL"}'
    assert [(f.entity_type, record[f.start : f.end]) for f in guard.find(record)] == [
        ("MEDICAL_RECORD_NUMBER", "K-20931"),
        ("PERSON", "Caron"),
        ("PERSON", "Inès"),
        ("LOCATION", "Lille"),
    ]
    # A field named "name" holds a thing's name as often as a person's, and a warehouse's town is no one's.
    assert guard.find('{"name": "Production Cluster", "warehouse": "Erfurt", "started": "2025-06-11"}') == []


def test_what_only_the_shorter_of_two_overlapping_findings_covers_stays_found() -> None:
    # The fund's name is the longer claim; the person before it, which the tagger ran into it, is not lost.
    guard = Guard(GuardConfig(entities={"types": ["PERSON", "ORGANIZATION"]}))
    text = "Keijo Salmela of NEXT FUNDS International Equity MSCI-KOKUSAI (Unhedged) Exchange Traded Fund"
    spans = [text[f.start : f.end] for f in guard.find(text)]
    assert spans == ["Keijo Salmela", "NEXT FUNDS International Equity MSCI-KOKUSAI (Unhedged) Exchange Traded Fund"]


def test_report_gives_types_counts_and_the_implied_data_class() -> None:
    report = GUARD.scan(["mail a@example.com and b@example.com", "card 4111111111111111"])
    assert report.counts == {"EMAIL_ADDRESS": 2, "CREDIT_CARD": 1}
    assert report.data_class == "restricted"
    assert [f.message for f in report.findings] == [0, 0, 1]
    assert GUARD.scan(["mail a@example.com"]).data_class == "confidential"
    assert GUARD.scan(["nothing here"]).data_class is None
    assert "a@example.com" not in report.summary()


def test_every_message_role_is_inspected() -> None:
    request = GenerationRequest(
        messages=(
            ChatMessage("system", "Customer SSN 536-90-4399."),
            ChatMessage("assistant", "Noted 4111 1111 1111 1111."),
            ChatMessage("tool", "ip 10.0.0.7"),
            ChatMessage("user", "Summarise."),
        )
    )
    assert GUARD.inspect(request).counts == {"US_SSN": 1, "CREDIT_CARD": 1, "IP_ADDRESS": 1}


def test_block_action_refuses_naming_types_never_values() -> None:
    settings = Settings.model_validate({"guard": {"action": "block"}})

    async def run() -> None:
        gateway = await build_gateway(settings)
        try:
            request = GenerationRequest(messages=(ChatMessage("user", "My card is 4111 1111 1111 1111."),))
            with pytest.raises(GuardBlocked) as caught:
                await gateway.infer(InferenceCall("smollm2-135m", request, "chat"))
            assert caught.value.status == 400 and "CREDIT_CARD" in caught.value.message
            assert "4111" not in caught.value.message
            clean = GenerationRequest(messages=(ChatMessage("user", "Say hi."),), max_tokens=2)
            assert [d async for d in await gateway.infer(InferenceCall("smollm2-135m", clean, "chat"))]
        finally:
            await gateway.close()

    asyncio.run(run())


def test_scan_endpoint_reports_types_and_positions(server: str) -> None:
    import httpx

    text = "Patient MRN: 88412-C, card 5555 5555 5555 4444."
    response = httpx.post(f"{server}/v1/guard/scan", json={"text": text}, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert [(f["type"], text[f["start"] : f["end"]]) for f in body["findings"]] == [
        ("MEDICAL_RECORD_NUMBER", "88412-C"),
        ("CREDIT_CARD", "5555 5555 5555 4444"),
    ]
    assert body["data_class"] == "restricted" and "5555" not in response.text.replace(text, "")
    messages = httpx.post(
        f"{server}/v1/guard/scan", timeout=10, json={"messages": [{"role": "system", "content": "ssn 536-90-4399"}]}
    ).json()
    assert messages["counts"] == {"US_SSN": 1}
    bad = httpx.post(f"{server}/v1/guard/scan", json={"text": "a", "messages": []}, timeout=10)
    assert bad.status_code == 400
