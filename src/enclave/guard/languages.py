"""Which languages a text is written in, from cheap cues, and the regions whose phone numbers it may hold.

Not a language identifier: a count of short words that only one of the languages the guard reads uses often
("und", "vous", "usted", "też"), of letters only one of them writes ("ß", "ñ", "ł"), and of country domains in
addresses ("@web.de", "hotmail.es"). A phone number written in national form ("030 1234567", "06 12 34 56 78")
can only be validated against a country's numbering plan, and a German text's numbers are most likely German:
the cues name the plans worth trying. One pass over the words, a dictionary look-up each: linear in the text and
a few microseconds for a prompt.
"""

from __future__ import annotations

import re
from collections import Counter

# Words frequent in one language and rare or absent in the others listed here (so not "de", "la", "il", "je",
# "is", "para", "tak", "mit", "ja", "telefono", which two of them share): function words, weekdays, and the
# column names of a pasted table ("Geburtsdatum", "apellidos"). Lower case, as they are looked up.
_CUE_WORDS = {
    "en": (
        "the and are you your please with this that have would could thanks from our of to be been was were has not"
        " but any all who which what when there their they them his her him she he its"
    ),
    "de": (
        "der und ist nicht ich sie bitte auf ein eine einen mich uns wir ihre unter oder auch für vom zum"
        " zur dem sich bei nach wird wurde hat haben kann noch schon heute danke herr frau grüße freundlichen"
        " rufen zurück rückruf sehr geehrte erreichbar neue neuer neu telefonnummer vorname nachname"
        " geburtsdatum straße montag dienstag mittwoch donnerstag freitag"
    ),
    "fr": (
        "les est pas pour avec vous nous une au aux merci bonjour cordialement madame monsieur appelez moi mon"
        " sur dans joindre téléphone portable nouveau nouvelle veut rappeler très être été sont chez leur aussi"
        " prénom lundi mardi mercredi jeudi vendredi"
    ),
    "es": (
        "el los las y usted gracias hola llame llámame llamar teléfono señor señora estoy pero muy también"
        " saludos puede nuestro móvil nombre apellidos nuevo quiere cita hasta cuando donde hay lunes"
        " martes miércoles jueves viernes"
    ),
    "it": (
        "gli è che grazie della delle dei degli alla dal dalla sono questo questa chiamami chiamare"
        " richiamare signor signora buongiorno cordiali saluti mio mia nel nella anche ho cellulare nuovo nuova"
        " contatto vuole preventivo essere stato molto oggi domani cognome lunedì martedì mercoledì giovedì"
        " venerdì"
    ),
    "nl": (
        "het een niet ik bedankt voor op zijn wij jullie graag bellen terugbellen telefoon mijn uw alstublieft"
        " groeten heeft ook naar telefoonnummer nieuwe wil klant afspraak voornaam achternaam geboortedatum"
        " woonplaats maandag dinsdag woensdag donderdag vrijdag"
    ),
    "pl": (
        "się że jest proszę dziękuję pan pani mój moja oraz jak dla jestem może telefonu dzień dobry zadzwoń"
        " numer też nowy nowa imię nazwisko chce został była było przez poniedziałek wtorek środa czwartek piątek"
    ),
    "pt": (
        "os não obrigado obrigada você telefone senhor senhora meu minha seu sua mas ligue ligar olá bom"
        " cumprimentos são telemóvel"
    ),
    "sv": "och är inte jag ett tack hälsningar vänliga mitt ringa",
    "da": "og ikke jeg venlig venlige hilsen ringe",
    "fi": "ei että kiitos puhelin minä minun sinun olen soita terveisin ystävällisin",
}
_CUES = {word: language for language, words in _CUE_WORDS.items() for word in words.split()}
_LETTERS = {
    "ß": "de",
    "ü": "de",
    "ñ": "es",
    "ł": "pl",
    "ą": "pl",
    "ę": "pl",
    "ś": "pl",
    "ż": "pl",
    "ã": "pt",
    "õ": "pt",
    "ø": "da",
}
# Country domains, as the end of an e-mail address or host name ("anna@web.de", "www.comune.milano.it").
_DOMAINS = {"de": "de", "at": "de", "fr": "fr", "es": "es", "it": "it", "nl": "nl", "pl": "pl", "pt": "pt"}
_DOMAINS |= {"se": "sv", "dk": "da", "fi": "fi", "uk": "en", "ie": "en"}
_DOMAIN = re.compile(r"\.([a-z]{2})\b(?!\.\w)")

# Whose phone numbers a text in each language is likely to hold (EU and UK plans; US numbers are always tried).
LANGUAGE_REGIONS: dict[str, tuple[str, ...]] = {
    "en": ("GB", "IE"),
    "de": ("DE", "AT", "CH"),
    "fr": ("FR", "BE", "CH"),
    "es": ("ES",),
    "it": ("IT",),
    "nl": ("NL", "BE"),
    "pl": ("PL",),
    "pt": ("PT",),
    "sv": ("SE",),
    "da": ("DK",),
    "fi": ("FI",),
}

_WORD = re.compile(r"[^\W\d_]+")


def languages(text: str) -> list[str]:
    """The languages the text's cues point to, most cues first: every language with at least half as many cues
    as the leading one (a thread may mix two), at most three; none when no cue is found."""
    lower = text.lower()
    counts = Counter(_CUES[w] for w in _WORD.findall(lower) if w in _CUES)
    counts.update(language for letter, language in _LETTERS.items() if letter in lower)
    counts.update(_DOMAINS[domain] for domain in _DOMAIN.findall(lower) if domain in _DOMAINS)
    ranked = counts.most_common(3)
    if not ranked:
        return []
    least = (ranked[0][1] + 1) // 2
    return [language for language, n in ranked if n >= least]


def regions(text: str) -> list[str]:
    """The numbering plans worth trying on the text's national-format phone numbers, in order of likelihood;
    English ones where nothing points elsewhere (a note in shorthand, a table of names and numbers)."""
    out: list[str] = []
    for language in languages(text) or ["en"]:
        out += [r for r in LANGUAGE_REGIONS[language] if r not in out]
    return out
