"""Named entities on real text: people, places, addresses and organisations found offline; ordinary words left."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.api.app import build_gateway
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please add Inessa Samoylova as a beneficiary.", [("PERSON", "Inessa Samoylova")]),
        ("I spoke with Mr. Tokaryev yesterday.", [("PERSON", "Tokaryev")]),
        ("Tomaszewski began writing as a teenager.", [("PERSON", "Tomaszewski")]),
        ("Forward it to Djevad R. Mitnjek before noon.", [("PERSON", "Djevad R. Mitnjek")]),
        ("The song is by Christiane de Vaan.", [("PERSON", "Christiane de Vaan")]),
        ("ask john tomlinson about it", [("PERSON", "john tomlinson")]),
        # An initial's or a title's full stop does not end the sentence; "James" is not "jam" + "es".
        ("Mr. Boyes grew up here.", [("PERSON", "Boyes")]),
        ("Novel M. Ermakov, the social worker, said so.", [("PERSON", "Novel M. Ermakov")]),
        (
            "Alba shouted at James: leave Hans's kid alone!",
            [("PERSON", "Alba"), ("PERSON", "James"), ("PERSON", "Hans's")],
        ),
        # A given name that is also a dictionary word, capitalised inside a sentence that is not in title case.
        ("Henry had given Laura his address.", [("PERSON", "Henry"), ("PERSON", "Laura")]),
        ("I want to add Felicity Marshall as a beneficiary.", [("PERSON", "Felicity Marshall")]),
        ("Please add Veronica van der Voet to the account.", [("PERSON", "Veronica van der Voet")]),
        # What the words around say where capitals cannot: a sentence's subject, a speaker's label, a name asked
        # for, a word spelt with letters English does not use, a name listed with names, the same name again.
        ("Darda is very reliable.", [("PERSON", "Darda")]),
        ("Walentyna, can I please speak to your boss?", [("PERSON", "Walentyna")]),
        ("Sigríður asked for a refund.", [("PERSON", "Sigríður")]),
        ("Intro\nTammy: Remember me?", [("PERSON", "Tammy")]),
        ("What's your last name? Pinto", [("PERSON", "Pinto")]),
        ("Name:    Cleofe Y Mateo", [("PERSON", "Cleofe Y Mateo")]),
        (
            "They had 3: Khasucha, Brenda and April.",
            [("PERSON", "Khasucha"), ("PERSON", "Brenda"), ("PERSON", "April")],
        ),
        (
            "Forbes was influenced by a song sung by Subhan K Forbes.",
            [("PERSON", "Forbes"), ("PERSON", "Subhan K Forbes")],
        ),
        ("Have you been to a Andrea Bilić concert?", [("PERSON", "Andrea Bilić")]),
        ("Hello, this is Mr. Luiz Sousa MD.", [("PERSON", "Luiz Sousa MD")]),
        ("Lovenjoel bridge is falling down.", [("LOCATION", "Lovenjoel")]),
        ("Netherlands leader gives an order.", [("LOCATION", "Netherlands")]),
        ("He lives on the north side of Dobrovského 30.", [("ADDRESS", "Dobrovského 30")]),
        (
            "> 42 Spilman Street\n> Apt. 3\n> Leeds LS1 4AB",
            [("ADDRESS", "42 Spilman Street\n> Apt. 3\n> Leeds LS1 4AB")],
        ),
        ("We moved here from Tartu in Estonia.", [("LOCATION", "Tartu"), ("LOCATION", "Estonia")]),
        ("She grew up in Vyskytná nad Jihlavou.", [("LOCATION", "Vyskytná nad Jihlavou")]),
        ("My sister lives in Ohio.", [("LOCATION", "Ohio")]),
        ("Ship it to 221 Baker Street, London NW1 6XE.", [("ADDRESS", "221 Baker Street, London NW1 6XE")]),
        ("He lives on the north side of Linzer Strasse 69.", [("ADDRESS", "Linzer Strasse 69")]),
        ("New address: 4698 rue des Églises Est, Apt. 12", [("ADDRESS", "4698 rue des Églises Est, Apt. 12")]),
        ("Mail goes to P.O. Box 255 now.", [("ADDRESS", "P.O. Box 255")]),
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
        # Places that are ordinary words: a country, or a multi-word place made of ordinary words.
        ("The Princess Royal arrived this morning from Finland.", [("LOCATION", "Finland")]),
        ("United Kingdom leader gives an order.", [("LOCATION", "United Kingdom")]),
        ("Ms. Crystal Walker Suite 111", [("PERSON", "Crystal Walker"), ("ADDRESS", "Suite 111")]),
        (
            "Our offices are at the corner of 5th Avenue and 42nd Street.",
            [("ADDRESS", "the corner of 5th Avenue and 42nd Street")],
        ),
        ("Send it to USNS Duncan, FPO AP 36724", [("ADDRESS", "USNS Duncan, FPO AP 36724")]),
        ("It is C/ Canarias 66, Lazkao", [("ADDRESS", "C/ Canarias 66, Lazkao")]),
        ("42 Spilman Street\n031-529-449 office", [("ADDRESS", "42 Spilman Street"), ("PHONE_NUMBER", "031-529-449")]),
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
        # A company ending in an organisation word, person's name or not; a listing's class after its form.
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
        # Addresses: a state line after a comma, a country after a blank line, the street line above a unit,
        # a street's name before its number, two streets that meet, Polish and Hungarian street words.
        (
            "22933 79 Rue de Ouerdanine\nCockle Bay\n, QC\n 59703",
            [("ADDRESS", "22933 79 Rue de Ouerdanine\nCockle Bay\n, QC\n 59703")],
        ),
        (
            "284 Ringvej 177\n Suite 183\n Qaqortoq\n\n Greenland 49732",
            [("ADDRESS", "284 Ringvej 177\n Suite 183\n Qaqortoq\n\n Greenland 49732")],
        ),
        (
            "}}54215 113 Ane Habib Bourguiba\n}}Suite 633\n}}Cite El Ayachi",
            [("ADDRESS", "54215 113 Ane Habib Bourguiba\n}}Suite 633\n}}Cite El Ayachi")],
        ),
        (
            "United Oil & Gas PLC\nTavcarjeva 103 Espinal Branch\n Suite 075",
            [("ORGANIZATION", "United Oil & Gas PLC"), ("ADDRESS", "Tavcarjeva 103 Espinal Branch\n Suite 075")],
        ),
        ("I'll meet you at Hana and R Capela 83 after the concert.", [("ADDRESS", "Hana and R Capela 83")]),
        (
            "Katie Miles\nJamie and 42 Spilman Street",
            [("PERSON", "Katie Miles"), ("ADDRESS", "Jamie and 42 Spilman Street")],
        ),
        ("Stop at ul. Praussa Ksawerego 29, Łódź", [("ADDRESS", "ul. Praussa Ksawerego 29, Łódź")]),
        # The block goes on after the address, the address does not: a date, a label, an e-mail.
        (
            "52 Huntly Street\nLondon\nDOB 5/25/1953\nMobile: 631 331 197",
            [("ADDRESS", "52 Huntly Street\nLondon"), ("DATE_OF_BIRTH", "5/25/1953"), ("PHONE_NUMBER", "631 331 197")],
        ),
        ("We'll meet at 78252 Teréz krt. 56., Balatonbozsok", [("ADDRESS", "78252 Teréz krt. 56., Balatonbozsok")]),
        (
            "Meet me at 513 43 Farrar Parade Suite 151 KOOJAN WA",
            [("ADDRESS", "513 43 Farrar Parade Suite 151 KOOJAN WA")],
        ),
        # Places: a qualifier in brackets, a state after a preposition, a place after a verb of travel.
        ("We moved here from Cyprus (Greek)", [("LOCATION", "Cyprus (Greek)")]),
        ("In Czech Republic they sing company songs.", [("LOCATION", "Czech Republic")]),
        ("On Sunday we returned to Liers by helicopter.", [("LOCATION", "Liers")]),
        # A given name at a sentence's start that English also uses, before a name nothing else could be; a
        # given name no list knows before a surname.
        ("Tilly Nicholson will be talking", [("PERSON", "Tilly Nicholson")]),
        (
            "Hi, I'm Sarah O'Connor; the file went to Ronald McDonald and DeShawn Lee.",  # capitals inside a name
            [("PERSON", "Sarah O'Connor"), ("PERSON", "Ronald McDonald and DeShawn Lee")],
        ),
        (
            "Patient Ahmed Khan was admitted on 03/02/2024 to St. Mary's.",  # a role, and a date no street's number
            [("PERSON", "Ahmed Khan"), ("DATE", "03/02/2024")],
        ),
        ("according to the W.A.G payment solutions plc website", [("ORGANIZATION", "W.A.G payment solutions plc")]),
        ("Teodor Aune\nPrivate household cook", [("PERSON", "Teodor Aune")]),
    ],
)
def test_named_entity_is_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Will you send the report on Monday? May I call you in June?",
        "Please review the Quarterly Budget before the Board Meeting.",
        "Thanks, that works for me.",
        "The Princess arrived this morning.",
        "Capitalized words like Wisdom and Discipline are often mistaken with names.",
        "How do I check my balance on my credit card?",
        "WHAT ??? I DON'T KNOW WHAT TO PRESS NEXT!!!",
        "The ATM ate my PIN card, ASAP please.",
        "Email me the spreadsheet before Friday.",
        "The expressions are evaluated from left to right.",
        "I'm sure I'd have said so, and I've said it before.",
        "See the Working Group notes.",  # two words, the first at the sentence's start: not a company
        "The Trust Fund pays out in May.",
        "Turn left at the corner of the table and the wall.",
        "Q&A and R&D sessions are on Friday.",
        # Title case and articles: capitals that say nothing about names.
        "How To Grant Access To The Shared Drive",
        "We Will Bill You Monthly.",
        "Our Summer Sale ends on Friday.",
        "The Grant Committee meets today.",
        "Press Enter and then Page Down.",
        "The Princess arrived this morning.",
        # Context cues that say nothing about names: a label that is an ordinary word, a passive verb, a list of
        # days, an accented loanword.
        "Note: the report is due.",
        "Summary: we spent the budget.",
        "Grant is awarded yearly.",
        "Monday, Tuesday and Wednesday are busy.",
        "Résumé attached.",
        "Please translate this into Spanish, then into Icelandic.",  # languages are capitalised, not names
        "The first name is a required field.",
        # Words that end like a street type before a year; a fund's term alone; a request's verb before a name's
        # place; travel to a day.
        "During 1996 the team grew.",
        "Buy an ETF if you want to diversify.",
        "Brands of Urban and more.",
        "We returned to Monday's agenda.",
        "We returned to Work after lunch.",
        # Identifiers from code are written with capitals inside; "place" and "via" in lower case are English.
        "A LogRecord instance is logged; an SSLContext holds keys; BytesIO is a stream of bytes.",
        "Each stub has a place of its own, sent via the queue.",
        # Two things and a number are no intersection: no word of them is a street's name.
        "Terms and Conditions 12 apply; Rock and Roll 45 records; Sales and Marketing 2024 budget.",
    ],
)
def test_ordinary_capitalised_words_are_not_names(text: str) -> None:
    assert found(text) == []


def test_entities_are_confidential_and_can_be_switched_off() -> None:
    report = GUARD.scan(["Inessa Samoylova moved to Tartu."])
    assert report.counts == {"PERSON": 1, "LOCATION": 1}
    assert report.data_class == "confidential"
    only_people = Guard(GuardConfig(entities={"types": ["PERSON"]}))
    assert [f.entity_type for f in only_people.find("Inessa Samoylova moved to Tartu.")] == ["PERSON"]
    assert Guard(GuardConfig(entities={"backend": "none"})).find("Inessa Samoylova moved to Tartu.") == []


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
    assert list(backend.find("Call Inessa Samoylova in Tartu.")) == [("PERSON", 5, 21), ("LOCATION", 25, 30)]
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
