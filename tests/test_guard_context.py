"""What the guard finds because of the words around it: birth dates as people write them, dates of someone's care
and record or staff numbers beside a named person, and names that a sentence's frame gives away."""

from __future__ import annotations

import pytest

from enclave.config import GuardConfig
from enclave.guard.scanner import Guard

GUARD = Guard(GuardConfig())


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in GUARD.find(text)]


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("Patient: Harold Finch (b. 14/02/1957), referred by GP.", "14/02/1957"),
        ("Mr Okafor, born 3rd March 1979, attended with his wife.", "3rd March 1979"),
        ("She was born on the 12th of August 1990 in Leeds.", "12th of August 1990"),
        ("DOB - 1968/07/23, NKDA", "1968/07/23"),
        ("Name: Priya Raman | DOB: 23-Jul-1968 | bay 7", "23-Jul-1968"),
        ("Candidate: Tom Hale, D.O.B. June 5th, 1995", "June 5th, 1995"),
        ("Herr Yilmaz (* 12.05.1978) wurde aufgenommen.", "12.05.1978"),
        ("Der Bewerber ist am 07.10.1993 geboren.", "07.10.1993"),
        ("Mme Lefèvre, née le 1er mars 1949, consulte.", "1er mars 1949"),
        ("naissance: 22/12/1971", "22/12/1971"),
        ("Paciente: Lucía Romero, F. nac.: 11/03/1960", "11/03/1960"),
        ("Nacido el 1 de ene. de 1975 en Sevilla.", "1 de ene. de 1975"),
        ("Sig. Bianchi, nato il 9 giu 1958 a Torino", "9 giu 1958"),
        ("La signora Rizzo (nata il 1° agosto 1945) riferisce", "1° agosto 1945"),
        ("Dhr. de Vries, geboren 12 mrt 1961, opgenomen", "12 mrt 1961"),
        ("Pacjentka urodziła się 4 lipca 1985 w Gdańsku.", "4 lipca 1985"),
        ("my birthday is march 14 and the card should arrive by then", "march 14"),
    ],
)
def test_a_birth_date_is_found_however_it_is_written(text: str, date: str) -> None:
    assert ("DATE_OF_BIRTH", date) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "The project was born from a hackathon on 12/03/2024.",
        "Python was born in 1991 and version 3.0 came out on 3 December 2008.",
        "La mise en production est prévue le 1er mars 2025.",
    ],
)
def test_a_date_near_birth_words_that_date_no_birth_is_not_flagged(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("Mr Patel was seen in clinic on 14/05/2025 with worsening dyspnoea.", ["14/05/2025"]),
        ("Mrs Ahmed had an MRI on 3 June 2025 which showed a disc prolapse.", ["3 June 2025"]),
        ("Jake Moss tested positive for COVID on 2025-01-12 and is isolating.", ["2025-01-12"]),
        ("Herr Braun war vom 03.03.2025 bis 14.03.2025 stationär.", ["03.03.2025", "14.03.2025"]),
        ("OP am 05.06.2025: laparoskopische Cholezystektomie bei Frau Roth.", ["05.06.2025"]),
        ("IRM réalisée le 05/05/2025 chez M. Lambert.", ["05/05/2025"]),
        ("Consulta del 14/05/2025: la paciente Marta Gil refiere dolor.", ["14/05/2025"]),
        ("TAC eseguita il 2 aprile 2025 sul sig. Greco.", ["2 aprile 2025"]),
        ("Dhr. Bakker is op 12-03-2025 opgenomen en op 20-03-2025 ontslagen.", ["12-03-2025", "20-03-2025"]),
        ("Pan Nowak był hospitalizowany od 12.03.2025 do 20.03.2025.", ["12.03.2025", "20.03.2025"]),
    ],
)
def test_a_date_of_care_beside_a_named_person_is_a_date_of_their_health(text: str, dates: list[str]) -> None:
    assert [value for kind, value in found(text) if kind == "DATE"] == dates


@pytest.mark.parametrize(
    "text",
    [
        "The clinic moves to the new building on 14 May 2025.",
        "The MRI scanner is offline for maintenance on 2025-06-12.",
        "La campagne de vaccination 2025 commence le 15 octobre 2025.",
        "Aktualizacja systemu szpitalnego 12.03.2025 o 22:00.",
        "Follow-up appointments can be booked from 2025-07-01 online.",
        # The noun of a stay labels a date of someone's stay; further off, it heads a form or a protocol.
        "Discharge summary template v2 goes live on 2025-04-01.",
        "Het nieuwe protocol voor opname geldt vanaf 01-07-2025.",
    ],
)
def test_words_of_care_date_nothing_in_a_text_that_names_nobody(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "kind", "number"),
    [
        ("Unit no. 448291, Mrs Amelia Grant, admitted via A&E", "MEDICAL_RECORD_NUMBER", "448291"),
        ("Pt ID: 7731-2290, Jane Holt", "MEDICAL_RECORD_NUMBER", "7731-2290"),
        ("Chart number 883201 for Ms Lopez", "MEDICAL_RECORD_NUMBER", "883201"),
        ("Versichertennummer: A123456780 (Frau Lehmann)", "MEDICAL_RECORD_NUMBER", "A123456780"),
        ("Codice paziente: PZ-448210, sig. Ricci", "MEDICAL_RECORD_NUMBER", "PZ-448210"),
        ("Nr pacjenta: 448291, Pani Wójcik", "MEDICAL_RECORD_NUMBER", "448291"),
        ("employee ID E-40412 (Sarah Lin) is on sick leave", "EMPLOYEE_ID", "E-40412"),
        ("Personalnummer 004471 – Herr Vogt, krankgeschrieben", "EMPLOYEE_ID", "004471"),
    ],
)
def test_a_record_or_staff_number_beside_a_named_person_is_found(text: str, kind: str, number: str) -> None:
    assert (kind, number) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Chart number 883201 in the Grafana dashboard list is the latency chart.",
        "Unit no. 448291 in the asset register is a monitor.",
        "Employee ID 40412 is a test account in staging.",
        "Order number 5523187 shipped on Monday.",
    ],
)
def test_a_number_after_such_words_names_nobody_in_a_text_without_a_person(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('Vlasta: "Who are you?"\nMille: "I\'m Daniel\'s daughter."', "Vlasta"),
        ("Katarzyna, can you check it?", "Katarzyna"),
        ("She was born on 8/13/1958. Her maiden name is Ooshima", "Ooshima"),
        ('"You are late," said Okonkwo to the nurse.', "Okonkwo"),
    ],
)
def test_a_name_the_sentence_frames_is_found_though_no_list_knows_it(text: str, name: str) -> None:
    assert ("PERSON", name) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        'Note: "restart the pod"',
        'Betreff: "Rechnung 4711"\nHinweis: "bitte prüfen"',
        'Asunto: "Pedido 5521"',
        "Frankfurt, we have a problem with the VPN.",
        "Grafana, can you show p99?",
        "Thanks, can you merge it?",
        "Kafka said the offset was committed.",
        'Stage: "Closed Won"\nOwner: "sales team"',
        "Grace, can you check it?",
        "État, can you check the field?",
    ],
)
def test_labels_places_and_software_in_those_frames_are_no_names(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "En cas de litige, le client peut recourir au médiateur de la consommation CM2C, 14 rue Saint-Jean, "
        "75017 Paris.",
        "Please send it to ACME GmbH, Hauptstraße 5, 10115 Berlin.",
        "Siège social : 14 rue Saint-Jean, 75017 Paris.",
    ],
)
def test_an_organisations_address_is_no_ones_personal_data(text: str) -> None:
    assert found(text) == []


def test_a_person_named_after_the_organisations_word_keeps_their_address() -> None:
    text = "The court wrote to Mr Jan Nowak, 12 Baker Street, London NW1 6XE."
    assert ("ADDRESS", "12 Baker Street, London NW1 6XE") in found(text)


def test_a_ward_or_bay_with_its_number_is_no_person_and_no_place() -> None:
    assert found("Ward 7B has 24 beds; the patient moved to Bay 3 at 14:00.") == []
    assert ("PERSON", "Sarah Ward") in found("Handover from Sarah Ward, bay 3.")


@pytest.mark.parametrize(
    "text",
    [
        "L'acte de naissance délivré le 12/03/2024 est joint au dossier.",  # a certificate's date, no birth date
        "Die Mitarbeiter werden zum 30.06.2025 entlassen.",  # dismissed by an employer, not from a hospital
    ],
)
def test_words_of_birth_and_discharge_that_date_something_else_flag_nothing(text: str) -> None:
    assert found(text) == []
