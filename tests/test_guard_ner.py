"""Named entities on real text: people, places, addresses and organisations found offline; ordinary words left."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.assembly import build_gateway
from enclave.config import EntitiesConfig, GuardConfig, Settings
from enclave.engines.base import ChatMessage, GenerationRequest
from enclave.errors import ConfigError
from enclave.gateway import Gateway, InferenceCall
from enclave.guard import entities, lexicon
from enclave.guard.scanner import Guard
from tests.fake_upstream import FakeUpstream, fake_upstream

GUARD = Guard(GuardConfig())


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in GUARD.find(text)]


# What names a person is evidence, not capitals: a name the lists know, a title, a role, a greeting, a mail
# header, a verb whose subject is a person, an e-mail address that spells the name.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A given name and a surname, in any of the guard's languages, a surname no list knows after a given name.
        ("Please add Felicity Marshall as a beneficiary.", [("PERSON", "Felicity Marshall")]),
        ("Die Unterlagen hat Kerstin Jäger schon geprüft.", [("PERSON", "Kerstin Jäger")]),
        ("Le colis est pour Aurélie Marchand, au deuxième étage.", [("PERSON", "Aurélie Marchand")]),
        ("Abbiamo sentito Tommaso Greco ieri sera.", [("PERSON", "Tommaso Greco")]),
        ("Het pakket is afgegeven bij Daan Visser.", [("PERSON", "Daan Visser")]),
        ("Umowę podpisała Małgorzata Nowak w piątek.", [("PERSON", "Małgorzata Nowak")]),
        ("The customer, Oluwaseun Adebanjo-Smith, asked for a refund.", [("PERSON", "Oluwaseun Adebanjo-Smith")]),
        ("Please add Veronica van der Voet to the account.", [("PERSON", "Veronica van der Voet")]),
        ("Hello, this is Mr. Luiz Sousa MD.", [("PERSON", "Luiz Sousa MD")]),
        (
            "Approved by F. Martinez, countersigned J. Whitcombe.",
            [("PERSON", "F. Martinez"), ("PERSON", "J. Whitcombe")],
        ),
        ("Please add Inessa Samoylova as a beneficiary.", [("PERSON", "Inessa Samoylova")]),
        ("I met Thaís Correia at the fair.", [("PERSON", "Thaís Correia")]),
        # Polish names in their cases: dative, accusative, vocative.
        ("Dokumenty przekazałem pani Barbarze Wiśniewskiej.", [("PERSON", "Barbarze Wiśniewskiej")]),
        ("Proszę przekazać dokumenty Katarzynie.", [("PERSON", "Katarzynie")]),
        # ALL CAPS and "Surname, Given".
        ("NEW STARTER: OLIVER HARTMANN, JUNIOR ANALYST", [("PERSON", "OLIVER HARTMANN")]),
        ("Pat.: Schneider, Karl-Heinz, 81 J., Station 3", [("PERSON", "Schneider, Karl-Heinz")]),
        # A given name alone that is no everyday word.
        ("Thanks Siobhan, I'll loop in Ravi from procurement.", [("PERSON", "Siobhan"), ("PERSON", "Ravi")]),
        # Surnames and names that are words, where the words around say a person stands there.
        ("Befund an Dr. med. Vogel gefaxt.", [("PERSON", "Vogel")]),
        ("Rendez-vous annulé par Mme Perrin ce matin.", [("PERSON", "Perrin")]),
        ("Reclamación de la Sra. Paz sobre la factura.", [("PERSON", "Paz")]),
        ("La dott.ssa Speranza richiama domani.", [("PERSON", "Speranza")]),
        ("mevr. De Jong belt morgen terug.", [("PERSON", "De Jong")]),
        ("Rozmawiałem z panem Wilkiem o fakturze.", [("PERSON", "Wilkiem")]),
        ("Her son Will can pick her up after four.", [("PERSON", "Will")]),
        ("Nurse note: Mr Mark Bishop declined breakfast.", [("PERSON", "Mark Bishop")]),
        ("Hi Grace, the slides are attached.", [("PERSON", "Grace")]),
        (
            "From: Harriet Quill <h.quill@example.org>",
            [("PERSON", "Harriet Quill"), ("EMAIL_ADDRESS", "h.quill@example.org")],
        ),
        ("On Monday, Okonjo wrote that the parcel never came.", [("PERSON", "Okonjo")]),
        ("What's your last name? Pinto", [("PERSON", "Pinto")]),
        ("Name:    Cleofe Y Mateo", [("PERSON", "Cleofe Y Mateo")]),
        ("Dear Ms Whitcombe, thank you for your letter.", [("PERSON", "Whitcombe")]),
        ("Sehr geehrte Frau Lindholm, vielen Dank.", [("PERSON", "Lindholm")]),
        # The same name again, where nothing else said so.
        (
            "Ticket from Hope Asante. Asante says the router keeps rebooting.",
            [("PERSON", "Hope Asante"), ("PERSON", "Asante")],
        ),
        # Names typed in lower case: spelt by an e-mail address, asked for, or two names no English word.
        (
            "pls refund will carter, his mail is willcarter77@example.com",
            [("PERSON", "will carter"), ("EMAIL_ADDRESS", "willcarter77@example.com")],
        ),
        ("refund to account holder: m. t. gallagher", [("PERSON", "m. t. gallagher")]),
        ("ci vediamo da luca bianchi alle 18", [("PERSON", "luca bianchi")]),
        ("rückruf an jonas meyer bitte", [("PERSON", "jonas meyer")]),
        # Places tied to a person: where they live, were born, are moving to.
        ("Mein Nachbar wohnt in Bielefeld.", [("LOCATION", "Bielefeld")]),
        ("She was born in Tartu and moved to Helsinki in 2019.", [("LOCATION", "Tartu"), ("LOCATION", "Helsinki")]),
        ("nata a Bari il 3 maggio 1970", [("LOCATION", "Bari"), ("DATE_OF_BIRTH", "3 maggio 1970")]),
        ("We moved here from Cyprus (Greek)", [("LOCATION", "Cyprus (Greek)")]),
        # Addresses: the street forms, a British postcode closing an address, Dutch canal streets, floors.
        ("Ship it to 221 Baker Street, London NW1 6XE.", [("ADDRESS", "221 Baker Street, London NW1 6XE")]),
        ("He lives on the north side of Linzer Strasse 69.", [("ADDRESS", "Linzer Strasse 69")]),
        ("He lives on the north side of Dobrovského 30.", [("ADDRESS", "Dobrovského 30")]),
        (
            "> 42 Spilman Street\n> Apt. 3\n> Leeds LS1 4AB",
            [("ADDRESS", "42 Spilman Street\n> Apt. 3\n> Leeds LS1 4AB")],
        ),
        ("New address: 4698 rue des Églises Est, Apt. 12", [("ADDRESS", "4698 rue des Églises Est, Apt. 12")]),
        ("Mail goes to P.O. Box 255 now.", [("ADDRESS", "P.O. Box 255")]),
        (
            "residing at Ivy Cottage, Upper Slaughter, Cheltenham GL54 2JD",
            [("ADDRESS", "Ivy Cottage, Upper Slaughter, Cheltenham GL54 2JD")],
        ),
        ("Bezorgen op: Lijnbaansgracht 21, 1015 GP Amsterdam", [("ADDRESS", "Lijnbaansgracht 21, 1015 GP Amsterdam")]),
        (
            "Lieferadresse: Goethestraße 12, 3. OG rechts, 60313 Frankfurt",
            [("ADDRESS", "Goethestraße 12, 3. OG rechts, 60313 Frankfurt")],
        ),
        ("Ms. Crystal Walker Suite 111", [("PERSON", "Crystal Walker"), ("ADDRESS", "Suite 111")]),
        (
            "Our offices are at the corner of 5th Avenue and 42nd Street.",
            [("ADDRESS", "the corner of 5th Avenue and 42nd Street")],
        ),
        ("Send it to USNS Duncan, FPO AP 36724", [("ADDRESS", "USNS Duncan, FPO AP 36724")]),
        ("It is C/ Canarias 66, Lazkao", [("ADDRESS", "C/ Canarias 66, Lazkao")]),
        ("42 Spilman Street\n031-529-449 office", [("ADDRESS", "42 Spilman Street"), ("PHONE_NUMBER", "031-529-449")]),
        (
            "22933 79 Rue de Ouerdanine\nCockle Bay\n, QC\n 59703",
            [("ADDRESS", "22933 79 Rue de Ouerdanine\nCockle Bay\n, QC\n 59703")],
        ),
        (
            "284 Ringvej 177\n Suite 183\n Qaqortoq\n\n Greenland 49732",
            [("ADDRESS", "284 Ringvej 177\n Suite 183\n Qaqortoq\n\n Greenland 49732")],
        ),
        ("I'll meet you at Hana and R Capela 83 after the concert.", [("ADDRESS", "Hana and R Capela 83")]),
        ("Stop at ul. Praussa Ksawerego 29, Łódź", [("ADDRESS", "ul. Praussa Ksawerego 29, Łódź")]),
        ("Proszę dostarczyć na ul. Długa 5/12 m. 4", [("ADDRESS", "ul. Długa 5/12 m. 4")]),
        (
            "52 Huntly Street\nLondon\nDOB 5/25/1953\nMobile: 631 331 197",
            [("ADDRESS", "52 Huntly Street\nLondon"), ("DATE_OF_BIRTH", "5/25/1953"), ("PHONE_NUMBER", "631 331 197")],
        ),
        ("We'll meet at 78252 Teréz krt. 56., Balatonbozsok", [("ADDRESS", "78252 Teréz krt. 56., Balatonbozsok")]),
        (
            "Hi, I'm Sarah O'Connor; the file went to Ronald McDonald and DeShawn Lee.",  # capitals inside a name
            [("PERSON", "Sarah O'Connor"), ("PERSON", "Ronald McDonald"), ("PERSON", "DeShawn Lee")],
        ),
        (
            "Patient Ahmed Khan was admitted on 03/02/2024 to St. Mary's.",  # a role, and a date of his health
            [("PERSON", "Ahmed Khan"), ("DATE", "03/02/2024")],
        ),
    ],
)
def test_named_entity_is_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


# A name no list knows, with nothing around it to say so, in English text: two capitalised words that are no
# English word, no place, no product and no firm.
@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Please add Oyvind Tveitnes to the shared mailbox.", "Oyvind Tveitnes"),
        ("Follow up with Kazuhiro Tanabe in a couple of weeks.", "Kazuhiro Tanabe"),
        ("The form was signed by Dragomir Vukašinović yesterday.", "Dragomir Vukašinović"),
        ("Ticket reassigned to Zhanar Beisenova, she owns billing now.", "Zhanar Beisenova"),
        ("Thanks to Aigerim K. Nurlanova for the review.", "Aigerim K. Nurlanova"),
        ("Santino Arcuri will present the results.", "Santino Arcuri"),
    ],
)
def test_a_name_no_list_knows_is_found_in_english_text(text: str, name: str) -> None:
    assert found(text) == [("PERSON", name)]


@pytest.mark.parametrize(
    "text",
    [
        "Goldman Sachs and Hewlett Packard both renewed the contract.",
        "Tested on Xiaomi Redmi and Huawei Mate phones.",
        "Flights to Buenos Aires were cancelled; Machu Picchu stays open.",
        "Deploy Grafana Loki and Tempo to the staging cluster.",
        # Outside English, capitalised unknown words are nouns as often: no evidence by themselves.
        "Bitte den Konferenzraum Nordflügel für Dienstag buchen.",
        "Dienstplan Notaufnahme",  # a heading with no cue word: nouns, long or ending as nouns do
        "Onderwerp: Jaarafsluiting Bestuursvergadering",
    ],
)
def test_two_unknown_words_that_name_no_one_are_not_found(text: str) -> None:
    assert found(text) == []


ORGANISATIONS = Guard(GuardConfig(entities={"types": ["PERSON", "LOCATION", "ADDRESS", "ORGANIZATION"]}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I used to work for Vaxart Inc. as a zoologist.", [("ORGANIZATION", "Vaxart Inc.")]),
        ("She joined Brooks Macdonald Group plc in May.", [("ORGANIZATION", "Brooks Macdonald Group plc")]),
        # Legal suffixes in their dotted, glued and bracketed forms; two companies in one run of capitals.
        ("I work for TSURUMI MANUFACTURING CO.LTD. now.", [("ORGANIZATION", "TSURUMI MANUFACTURING CO.LTD.")]),
        ("He left Banco Macro S.A. last year.", [("ORGANIZATION", "Banco Macro S.A.")]),
        ("Ask Banco Products (India) Ltd about it.", [("ORGANIZATION", "Banco Products (India) Ltd")]),
        (
            "Brands of Urban&Civic PLC and United Oil & Gas PLC.",
            [("ORGANIZATION", "Urban&Civic PLC"), ("ORGANIZATION", "United Oil & Gas PLC.")],
        ),
        (
            "Compare Acme S.A. and Initech Ltd on price.",
            [("ORGANIZATION", "Acme S.A."), ("ORGANIZATION", "Initech Ltd")],
        ),
        ("The Kroger Co. is hiring.", [("ORGANIZATION", "The Kroger Co.")]),
        ("We hired Boston Consulting Group.", [("ORGANIZATION", "Boston Consulting Group")]),
        (
            "Shares in Equity Residential Properties Trust fell.",
            [("ORGANIZATION", "Equity Residential Properties Trust")],
        ),
        # Securities as exchanges list them: the issuer cut short, then the instrument's terms.
        (
            "Filippa Napolitano from ISHS VII/SHS CL-DIST GBP is the keynote speaker",
            [("PERSON", "Filippa Napolitano"), ("ORGANIZATION", "ISHS VII/SHS CL-DIST GBP")],
        ),
        ("TRIE POIN/PAR VTG FPD 0.01 is an Australian bank", [("ORGANIZATION", "TRIE POIN/PAR VTG FPD 0.01")]),
        ("I bought the Vanguard S&P 500 ETF last year.", [("ORGANIZATION", "Vanguard S&P 500 ETF")]),
        # The addressee lines above a street: a company whatever its words, and its first word kept.
        (
            "Pedro Alves\nInnography\nBanco Santander (Brasil) S.A.\n52 Huntly Street\nLondon",
            [
                ("PERSON", "Pedro Alves"),
                ("ORGANIZATION", "Innography"),
                ("ORGANIZATION", "Banco Santander (Brasil) S.A."),
                ("ADDRESS", "52 Huntly Street\nLondon"),
            ],
        ),
        (
            "Granules India Ltd\n\nPSC 6674, Box 1965\nAPO AP 40104",
            [("ORGANIZATION", "Granules India Ltd"), ("ADDRESS", "PSC 6674, Box 1965\nAPO AP 40104")],
        ),
        (
            "I work for Eaton Vance Tax-Managed Diversified Equity Income Fund",
            [("ORGANIZATION", "Eaton Vance Tax-Managed Diversified Equity Income Fund")],
        ),
        (
            "Shares of Haverty Furniture Companies Inc. Class A rose.",
            [("ORGANIZATION", "Haverty Furniture Companies Inc. Class A")],
        ),
        (
            "Thaís Correia of Marine Products Corporation's board",
            [("PERSON", "Thaís Correia"), ("ORGANIZATION", "Marine Products Corporation's")],
        ),
        (
            "United Oil & Gas PLC\nTavcarjeva 103 Espinal Branch\n Suite 075",
            [("ORGANIZATION", "United Oil & Gas PLC"), ("ADDRESS", "Tavcarjeva 103 Espinal Branch\n Suite 075")],
        ),
        ("according to the W.A.G payment solutions plc website", [("ORGANIZATION", "W.A.G payment solutions plc")]),
    ],
)
def test_organisations_are_found_where_configured(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(f.entity_type, text[f.start : f.end]) for f in ORGANISATIONS.find(text)] == expected


def test_organisations_are_not_personal_data_by_default() -> None:
    # A company is no natural person: by default it is not reported, even one named for its founder.
    for text in ("I used to work for Vaxart Inc. as a zoologist.", "Kredit für die Bäckerei Otto Brandt GmbH."):
        assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        # Places alone: an office, a data centre, a country of origin of goods, a city in the news.
        "Netherlands leader gives an order.",
        "Our Frankfurt and Dublin data centres failed over at noon.",
        "Made in Portugal, batch 0425.",
        "Die Racks ziehen von Offenbach nach Hanau um.",
        "Le serveur de Lyon redémarre chaque nuit.",
        "Moved the ticket to Closed Won; migrated the engine from Nagios to Prometheus.",
        # Technology and products, eponyms and diseases: names, but of no one.
        "The Kafka consumers lag; Grafana and Prometheus show it, Loki has the logs.",
        "Julia and Python notebooks run in the new Jupyter image; Hugo builds the docs.",
        "We migrated from Spring Boot to Quarkus and from Power BI to Looker.",
        "Patients with Parkinson's disease, Crohn's disease or Hashimoto's thyroiditis were excluded.",
        "Morbus Crohn und Colitis ulcerosa; die maladie de Parkinson; la enfermedad de Alzheimer.",
        "Der Dijkstra-Algorithmus ersetzt die Haversine-Heuristik; see Dijkstra's algorithm.",
        "Hartmann's solution 500 ml; the Glasgow Coma Scale was 14; Graves' disease ruled out.",
        # Capitalised nouns of German, Dutch and Polish, headings, and sentence openers.
        "Die Betriebsvereinbarung zur mobilen Arbeit wurde verlängert; Fragen an den Betriebsrat.",
        "Herinnering: de beoordelingsgesprekken moeten voor 1 december zijn vastgelegd.",
        "Przypominamy, że Formularze są dostępne w systemie kadrowym.",
        "Bitte die Präsentation von letzter Woche nicht vergessen, Raum 2.14, Haus C. Danke!",
        "KARTA INFORMACYJNA LECZENIA SZPITALNEGO",
        # Companies, teams and things named like people.
        "Die Firma Otto Logistik liefert ab Montag; das Team Infrastruktur baut um.",
        "From: Platform Team\nTo: Engineering\nOn Thu, Data Team wrote:",
        "Our Summer Sale ends on Friday; the Rose Garden opens in May.",
        "Floor 3 is closed; use the Ground Floor rooms. Will you send the report on Monday?",
        # Dates alone: a release, a deadline, a log's timestamp.
        "Release 3.2 ships on 2025-08-14; maintenance window on 21 June 2025, 06:00.",
        '{"event":"deploy","started_at":"2025-06-11T07:58:00Z","status":"ok"}',
        "Sprint review on 17/06/2025; the operation completed on 2025-06-12 without errors.",
        # Logs and code.
        "2025-06-12T10:15:03Z WARN user_id=48213 session expired, group instance id None",
        "SELECT c.first_name, c.last_name FROM customers c LIMIT 10;",
        '{"name": "payments-api", "owner": "team-billing", "tier": 1}',
        # The old rules' cases that stay clean.
        "Will you send the report on Monday? May I call you in June?",
        "Please review the Quarterly Budget before the Board Meeting.",
        "Thanks, that works for me.",
        "The Princess arrived this morning.",
        "Capitalized words like Wisdom and Discipline are often mistaken with names.",
        "WHAT ??? I DON'T KNOW WHAT TO PRESS NEXT!!!",
        "The ATM ate my PIN card, ASAP please.",
        "Email me the spreadsheet before Friday.",
        "I'm sure I'd have said so, and I've said it before.",
        "How To Grant Access To The Shared Drive",
        "We Will Bill You Monthly.",
        "The Grant Committee meets today.",
        "Press Enter and then Page Down.",
        "Note: the report is due.",
        "Grant is awarded yearly.",
        "Monday, Tuesday and Wednesday are busy.",
        "Résumé attached.",
        "Please translate this into Spanish, then into Icelandic.",
        "The first name is a required field.",
        "During 1996 the team grew.",
        "We returned to Work after lunch.",
        "A LogRecord instance is logged; an SSLContext holds keys; BytesIO is a stream of bytes.",
        "Each stub has a place of its own, sent via the queue.",
        "Terms and Conditions 12 apply; Rock and Roll 45 records; Sales and Marketing 2024 budget.",
        "The AUC went from 0,74 naar 0,79 after retraining.",
    ],
)
def test_what_names_no_one_is_not_found(text: str) -> None:
    assert found(text) == []


def test_entities_are_confidential_and_can_be_switched_off() -> None:
    report = GUARD.scan(["Inessa Samoylova moved to Tallinn."])
    assert report.counts == {"PERSON": 1, "LOCATION": 1}
    assert report.data_class == "confidential"
    only_people = Guard(GuardConfig(entities={"types": ["PERSON"]}))
    assert [f.entity_type for f in only_people.find("Inessa Samoylova moved to Tallinn.")] == ["PERSON"]
    assert Guard(GuardConfig(entities={"backend": "none"})).find("Inessa Samoylova moved to Tallinn.") == []


def test_a_model_backend_that_is_not_installed_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"not installed|needs"):
        entities.load(EntitiesConfig(backend="spacy", spacy_model="no_such_model_xx"))


def test_loading_the_builtin_backend_makes_no_network_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    lexicon.load.cache_clear()
    backend = entities.load(EntitiesConfig())
    assert backend is not None
    assert list(backend.find("Call Inessa Samoylova, who lives in Tartu.")) == [("PERSON", 5, 21), ("LOCATION", 36, 41)]
    assert attempts == []


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as fake:
        yield fake


async def pseudonymizing_gateway(upstream: FakeUpstream, data_dir: Path) -> Gateway:
    settings = Settings.model_validate(
        {
            "data_dir": str(data_dir),
            "models": [],
            "providers": [{"name": "hosted", "base_url": upstream.url, "zone": "external", "retries": 0}],
            "routes": [{"name": "assistant", "targets": ["hosted/echo"]}],
            "guard": {"action": "pseudonymize"},
        }
    )
    return await build_gateway(settings, auth_required=False)


@pytest.mark.parametrize("stream", [True, False])
def test_a_name_and_address_are_pseudonymized_and_restored(
    upstream: FakeUpstream, stream: bool, tmp_path: Path
) -> None:
    text = "Draft a letter to Inessa Samoylova at 221 Baker Street. Sign it from Inessa Samoylova's lawyer."

    async def run() -> list[str]:
        gateway = await pseudonymizing_gateway(upstream, tmp_path)
        try:
            request = GenerationRequest(messages=(ChatMessage("user", text),), stream=stream)
            answer = await gateway.infer(InferenceCall("assistant", request, "chat"))
            return [d.text async for d in answer]
        finally:
            await gateway.close()

    pieces = asyncio.run(run())
    received = upstream.received[-1].body["messages"][-1]["content"]
    assert "Samoylova" not in upstream.texts() and "Baker" not in upstream.texts()
    assert received.startswith("Draft a letter to <PERSON_1> at <ADDRESS_1>.")
    assert "".join(pieces) == text
