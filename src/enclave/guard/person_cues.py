"""The words around a name that say a person stands there, and the words that never name anyone, in the guard's
languages (English, German, French, Spanish, Italian, Dutch, Polish). All lower case and without accents, as the
tagger compares them (``lexicon.fold``).
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Written before a name, of anyone: "Mrs Rose Whitfield", "Herrn Becker", "Mme Fontaine", "dott.ssa Bella",
# "mevr. Hoop", "panią Wilk". Dotted forms are compared without their full stop.
TITLES = _words(
    """
    mr mrs ms miss mx dr doctor prof professor sir dame madam lady lord rev
    herr herrn frau fraulein dres
    m mme mlle mmes mm monsieur madame mademoiselle docteur pr me
    sr sra srta sres don dona dña dr dra senor senora senorita
    sig sigra signor signora signorina dott dottssa dottoressa dottor avv ing
    dhr mevr mw mej heer mevrouw juf
    pan pani pana panu panem panią pania panstwo państwo lek mgr inz inż
    """
)
# Roles a name is given with: "Daughter Grace asked", "Patientin: Ingrid Sommer", "Kontoinhaber Frank Engel",
# "mi mujer, sol ferrer". After one, a capitalised word, or a given name in lower case, names a person.
ROLES = _words(
    """
    patient patients patientin pat paciente patiente paziente patient patiënt patient pacjent pacjentka client
    cliente customer kunde kundin klant klient klientka user utente usuario utilisateur
    daughter son wife husband mother father sister brother neighbour neighbor niece nephew grandson
    granddaughter fiancee fiance tochter sohn ehefrau ehemann frau mann mutter vater schwester bruder nachbar
    nachbarin nichte neffe enkel enkelin fille fils epouse mari mere pere soeur frere voisin voisine niece neveu
    petit-fils petite-fille hija hijo esposa esposo mujer marido madre padre hermana hermano vecina vecino sobrina
    sobrino nieta nieto figlia figlio moglie marito madre padre sorella fratello nipote vicina vicino dochter zoon
    vrouw echtgenote echtgenoot moeder vader zus zuster broer buurman buurvrouw nicht neef kleinzoon kleindochter
    corka corka syn zona zona maz matka ojciec siostra brat sasiadka sasiad wnuczka wnuk
    colleague candidate kandidat kandidatin candidat candidate candidata candidato kandidaat kandydat kandydatka
    cardholder holder kontoinhaber kontoinhaberin inhaber inhaberin titular titulaire titolare intestatario
    intestataria rekeninghouder wlasciciel wlascicielka
    employee mitarbeiter mitarbeiterin salarie salariee empleado empleada dipendente werknemer pracownik
    pracownica contractor tenant mieter mieterin locataire inquilino inquilina huurder najemca
    lead contact kontakt contacto contatto contactpersoon
    witness defendant claimant plaintiff testator beneficiary erbe erbin
    """
)
# Labels of a line that names its sender or recipient: "From: Mark Ellison <...>", "Von: Team Infrastruktur",
# "Signed: M. A. Collins" (a line's first word, before a colon).
HEADER_LABELS = _words(
    """
    from to cc bcc author signed signature sender recipient
    von an unterschrift absender empfanger
    de a expediteur destinataire signe
    de para remitente destinatario firmado
    da a mittente destinatario firmato
    van aan afzender ontvanger getekend
    od do nadawca odbiorca podpisano
    """
)
# Before a name that is asked or given: "name on account j. a. morrow", "au nom de margot petit",
# "intestato a andrea colombo", "t.n.v. d. de graaf". The name may follow in lower case.
NAME_CUES = _words(
    """
    name naam nom nombre nome imie imię nazwisko nachname vorname surname forename apellido apellidos cognome
    achternaam voornaam tnv intestato intestata inhaber kontoinhaber titular wlasciciel wlascicielka holder
    """
)
# Greetings and addresses to someone: "Dear Dr Patel", "Hi Mark", "Beste Sanne", "Gentile Giulia".
GREETINGS = _words(
    """
    dear hi hello hey dearest
    hallo liebe lieber liebes geehrte geehrter
    bonjour salut cher chere bonsoir
    hola estimado estimada querido querida
    ciao caro cara gentile gentilissima gentilissimo salve buongiorno
    beste geachte hoi hallo dag
    szanowna szanowny szanowni droga drogi czesc witam
    """
)
# Verbs whose subject is a person, after a name: "Mark Ellison wrote", "Team Netzwerk schrieb" (a team is no
# person: see TEAM_WORDS).
PERSON_VERBS = _words(
    """
    said says wrote writes asked asks replied called calls told tells mentioned confirmed shouted began lives
    lived works worked married
    schrieb schreibt sagte sagt fragte rief meldet meldete
    ecrit dit demande appelle
    escribio dice dijo pregunta llamo
    scritto scrive dice detto chiede
    schreef schrijft zegt zei vraagt belde
    napisal napisala pisze powiedzial powiedziala pyta dzwoni
    """
)
# Words that name a group, not a person, though a name list may know them: "Team Infrastruktur", "Data Team",
# "Billing Support", "Équipe Data", "Zespół Danych".
TEAM_WORDS = _words(
    """
    team teams support service services desk group department engineering management platform security sales ops
    operations office staff committee board admin administrator helpdesk hotline billing data infrastructure
    abteilung kundenservice kundendienst vertrieb verwaltung personalabteilung
    equipe service direction
    equipo servicio departamento soporte
    squadra servizio ufficio
    afdeling klantenservice
    zespol dzial obsluga
    """
)
# Function words of the seven languages, and the calendar's names: capitalised at a sentence's start or in a
# heading, never a name, though the Census lists know some ("Les", "Van", "Mai", "Juli").
FUNCTION_WORDS = _words(
    """
    a an the and or but nor as at by for from in into of off on onto out over to up down with via i you he she it
    we they me him us them my your his her its our their this that these those is are was were be been will shall
    can may must not no yes all any each every some now then here there so if than too very also just only
    der die das den dem des ein eine einer einem einen eines und oder aber mit von zu zum zur im in am an auf aus
    bei fur nach vor uber unter ist sind war wird werden hat haben ich du er sie es wir ihr mein dein sein unser
    nicht kein keine auch noch nur schon sehr bitte danke als wie wenn dass ob bis seit gegen ohne um durch so da
    hier dort dann heute morgen ja nein
    le la les l un une des du de et ou mais avec pour par sur sous dans en au aux ce cette ces il elle ils elles
    nous vous je tu on est sont etait a ont qui que quoi ne pas plus tres merci bonjour oui non si car donc chez
    aujourd hui demain hier toujours tout toute tous
    el los las lo una unos unas del al y o pero con para por sin sobre en es son era fue ha han yo tu usted
    nosotros ellos ellas que quien muy gracias si no mas ya hoy manana ayer siempre todo toda todos
    il lo gli i uno una degli delle della dello dei e ed o ma con per tra fra su in a da di del nel nella sono
    era ha hanno io tu lui lei noi voi loro che chi non piu molto grazie si al alla alle allo agli ai dal dalla
    dalle dai sul sulla sui col nei negli sempre ancora ora oggi domani ieri
    het een en of maar met voor door op in aan bij uit naar van de te is zijn was werd heeft hebben ik jij hij
    zij wij jullie niet geen ook nog al wel dan dus als om tot
    i w we z ze na do od po przy dla przez o u jest sa byl byla nie tak ale lub oraz czy to ten ta te ja ty on
    ona my wy oni juz tez jak ze sie
    """
)
# ("Jan" is left out: a given name as often as January's; see people._DATED.)
CALENDAR = _words(
    """
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun
    january february march april may june july august september october november december feb mar apr jun
    jul aug sep sept oct nov dec
    montag dienstag mittwoch donnerstag freitag samstag sonntag januar februar marz mai juni juli oktober dezember
    lundi mardi mercredi jeudi vendredi samedi dimanche janvier fevrier mars avril juin juillet aout septembre
    octobre novembre decembre
    lunes martes miercoles jueves viernes sabado domingo enero febrero marzo abril mayo junio julio agosto
    septiembre octubre noviembre diciembre
    lunedi martedi mercoledi giovedi venerdi sabato domenica gennaio febbraio aprile maggio giugno luglio
    settembre ottobre dicembre
    maandag dinsdag woensdag donderdag vrijdag zaterdag zondag januari februari maart mei augustus
    poniedzialek wtorek sroda czwartek piatek sobota niedziela styczen luty marzec kwiecien maj czerwiec lipiec
    sierpien wrzesien pazdziernik listopad grudzien
    """
)
# Lower-case words that belong inside a name: "Willem de Wit", "Lo Presti", "María del Pilar Soto".
PARTICLES = _words("de van von der den del della dello dos das du la le lo da di ten ter y bin ibn al el")
# Words before a company's name, which may be a person's: "Firma Otto Logistik", "la société Martin".
COMPANY_CUES = _words(
    """
    company firm firma unternehmen gesellschaft societe entreprise empresa sociedad azienda societa ditta bedrijf
    onderneming spolka przedsiebiorstwo
    """
)
