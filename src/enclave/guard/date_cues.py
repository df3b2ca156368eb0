"""The words that tie a date to a person, for ``guard.dates: personal`` (enclave.guard.dates reads them).

Three strengths. Birth words ("DOB", "born", "geb.", "née le", "F. nac.", "nato il", "ur.", "urodziła się")
make any date right after them a birth date, and "geboren" right after a date ("ist am 07.10.1993 geboren")
does too. Words of a stay, an operation, a death or a sick note ("Admitted:", "Aufnahme am", "operata",
"ziek gemeld") make a date in their sentence a date of someone's health wherever they stand. Words that name
care but could also be said of a building or a system ("MRI", "clinic", "vaccination", "chemo", "Untersuchung",
"IRM", "TAC", "RTG") count only in a text that already names a person (enclave.guard.context decides), and
the most general ones ("appointment", "Termin", "rendez-vous", "cita", "visita", "afspraak", "wizyta") only where
that text is also about someone's care (``CARE``).
"""

from __future__ import annotations

import re

# Right before a birth date, within 24 characters that hold no digit and no line break.
BIRTH = re.compile(
    r"(?i:(?<![^\W\d_])(?:born(?!\s+(?:from|out|of|as|to)\b)|date of birth|birth ?date|d\.?o\.?b|birthday"
    r"|geb|geboren|geburtsdatum|geburtstag|né|née|naissance(?=\s*:)|ddn|nacid[oa]|nacimiento|nac|nat[oa]|nascita"
    r"|geboortedatum|ur|urodz\w*|data urodzenia)(?![^\W\d_]))"
    r"[^\d\n]{0,24}$"
    # "(b. 14/02/1957)", German genealogy's star "(* 12.05.1978)": only right before the date.
    r"|(?<![^\W\d_])b\.\s?$|[(,]\s?\*\s?$"
)
# Right after a birth date: "ist am 07.10.1993 geboren", "op 12-03-1961 geboren".
BIRTH_AFTER = re.compile(r"(?i)\)?\s{1,3}(?:geboren|urodzon[ya])(?![^\W\d_])")

# Words of a person's health before a date in its sentence: what happened to someone (admitted, operated, off
# sick). Nouns that also name software's events ("operation", "intervention", "release") are left out: a
# participle says someone was treated.
HEALTH = re.compile(
    r"(?i:(?<![^\W\d_])(?:admitted|discharged|operated|diagnosed|died|deceased|sick leave|sick note"
    r"|off sick|off ill|sick since|ill since|off work sick|unfit for work|medical leave|sickness absence|fit note"
    r"|signed off (?:sick|ill|work)|signed off(?= (?:from|until|till|for)\b)"
    r"|aufgenommen|entlassen|operiert|krankgeschrieben"
    r"|krankmeldung|krankschreibung|krank ?gemeldet|arbeitsunf[äa]hig\w*|verstorben"
    r"|hospitalis[ée]e?|admise?|op[ée]r[ée]e?"
    r"|d[ée]c[ée]d[ée]e?|arr[êe]t (?:maladie|de travail)|cong[ée] (?:de )?maladie|malade"
    r"|ingres[óo]|ingresad[oa]|intervenid[oa]"
    r"|operad[oa]|fallecid[oa]|baja (?:m[ée]dica|laboral|por enfermedad)"
    r"|est[áa] de baja|incapacidad temporal"
    r"|ricoverat[oa]|dimess[oa]|operat[oa]|malattia"
    r"|opgenomen|ontslagen|geopereerd|overleden|ziekmelding|ziek ?gemeld|ziek sinds"
    r"|ziekteverlof"
    r"|hospitalizowan[ya]|przyj[ęe]t[ya]|wypisan[ya]|operowan[ya]"
    r"|zwolnieni\w* lekarski\w*|zwolnieni\w* chorobow\w*|(?<=na )L4|niezdoln\w* do pracy)(?![^\W\d_]))"
    r"[^\n]{0,40}$"
)
# The nouns of a stay, an operation or an event, which also head a form, a protocol or a ward's notice ("the
# admission form goes live on", "protocol voor opname geldt vanaf"): a date of someone's health where they
# label the date, with at most a few words and no number between ("Aufnahme am", "Date of discharge:",
# "Séjour du", "ricovero del", "data przyjęcia:"); anywhere in its sentence only beside a named person
# (``CARE_EVENT``).
_HEALTH_NOUNS = (
    r"admission|discharge|surgery|colonoscopy|endoscopy|biopsy|stroke|fracture"
    r"|aufnahme|entlassung|aufenthalt|eingriff|unfall|sturz|hospitalisation|s[ée]jour|entr[ée]e(?=\")|sortie(?=\")"
    r"|chute|ingreso|alta(?=\s*:)|(?<=de )alta|(?<=el )alta|(?<=del )alta|cirug[íi]a|ca[íi]da"
    r"|ricovero|dimission[ei]|caduta|decesso|referto"
    r"|opname|ontslag|ingreep|hospitalizacja|przyj[ęe]cia?|wypis\w*|zabieg|udar\w*|upadek|zgon"
)
HEALTH_LABEL = re.compile(rf"(?i:(?<![^\W\d_])(?:{_HEALTH_NOUNS})(?![^\W\d_]))[^\n\d]{{0,10}}$")
# The same events told after the date, as German and Dutch put a participle last ("ist am 12.03.2025
# aufgenommen worden", "is op 12-03-2025 opgenomen"); up to the end of the clause. Not "entlassen" or
# "ontslagen": an employer's dismissal is written the same ("zum 30.06.2025 entlassen").
HEALTH_AFTER = re.compile(
    r"(?i)[^\n.;!?]{0,30}?(?<![^\W\d_])(?:aufgenommen|operiert|krankgeschrieben|krank ?gemeldet"
    r"|arbeitsunf[äa]hig|station[äa]r|verstorben|gestorben|opgenomen|geopereerd|ziek ?gemeld"
    r"|overleden|arbeidsongeschikt)(?![^\W\d_])"
)

# Care that a person had on a date, in a text that names a person: tests, scans, doses, visits to a doctor.
CARE_EVENT = re.compile(
    rf"(?i:(?<![^\W\d_])(?:{_HEALTH_NOUNS}|(?-i:AU|OP|ED|CT|RM|TK|SOR|SEH|GP|TAC|IRM|RMN|MRI|MRT|RTG|USG|PCR|DOA|DOD|LMP|A&E)"
    r"|seen in (?:clinic|a&e|the clinic)|clinic|ct scan|mri scan|x-ray|ultrasound"
    r"|tested positive|tested negative|blood tests?|bloods|dose|vaccin\w*|jab|booster|chemo\w*|radiotherapy"
    r"|infusion|injury|accident|onset|symptoms|diagnosis|hospital|therapy|physio\w*"
    r"|klinik\w*|krankenhaus\w*|h[ôo]pital|clinique|ospedale|ziekenhuis|szpital\w*"
    r"|off work|absent|maternity leave"
    r"|r[öo]ntgen|sono\w*|befund|impfung|geimpft|dosis|bestrahlung|therapie|diagnose|erstdiagnose"
    r"|station[äa]r|notaufnahme|reha|verletzung|erkrankt|krank|positiv getestet|nachsorge"
    r"|[ée]chographie|prise de sang|vaccin\w*|chimio\w*|s[ée]ance|diagnostic|diagnostiqu[ée]e?"
    r"|urgences|blessure|accident du travail|accouchement|consultation"
    r"|resonancia|radiograf[íi]a|ecograf[íi]a|anal[íi]tica|vacuna\w*|dosis|quimio\w*|diagn[óo]stic\w*"
    r"|urgencias|accidente|lesi[óo]n|parto|consulta"
    r"|risonanza|radiografia|ecografia|prelievo|vaccin\w*|chemio\w*|terapia|diagnosi|diagnosticat[oa]"
    r"|pronto soccorso|infortunio|incidente|eseguit[oa]|intervento|parto"
    r"|bloedonderzoek|prik|kuur|chemokuur|diagnose|gediagnosticeerd|spoedeisende hulp|ongeval|letsel"
    r"|rezonans|tomografi\w*|szczepi\w*|dawk\w*|chemioterapi\w*|diagnoz\w*|zdiagnozowan\w*"
    r"|izba przyj[ęe][ćc]|wizyt\w* (?:kontroln|lekarsk|domow)\w*"
    r"|wypad\w*|uraz\w*|poród|porodu|badani\w*|konsultacj\w*|leczeni\w*)(?![^\W\d_]))"
)
# The most general words of a meeting or check, a date of someone's care only in a text about care.
CHECK_EVENT = re.compile(
    r"(?i:(?<![^\W\d_])(?:appointment|seen|visit|follow-up|review|check-?up|exam(?:ination)?|scan|labs?"
    r"|termin|untersuchung|untersucht|vorstellung|vorgestellt|kontrolle|sprechstunde"
    r"|rendez-vous|rdv|visite|vu|vue|examen|contr[ôo]le|bilan|radio|scanner"
    r"|cita|visita|revisi[óo]n|control|exploraci[óo]n|esame|controllo"
    r"|afspraak|consult|controle|onderzoek|onderzocht|bezoek|echo|labor"
    r"|wizyt\w*|kontrol\w*|przegl[ąa]d)(?![^\W\d_]))"
)
# A text about a person's care: patients, doctors, clinics, diagnoses, symptoms.
CARE = re.compile(
    r"(?i:(?<![^\W\d_])(?:patient\w*|pati[ëe]nt\w*|paciente|paziente|pacjent\w*|doctor|dr|gp|nurse|physician"
    r"|arzt|[äa]rztin|hausarzt|m[ée]decin|m[ée]dico|medico|huisarts|arts|lekarz\w*|clinic\w*|klinik\w*|cl[íi]nica"
    r"|kliniek|hospital\w*|krankenhaus|h[ôo]pital|ospedale|ziekenhuis|szpital\w*|diagnos\w*|symptom\w*|sympt[ôo]me"
    r"|s[íi]ntomas|sintomi|objawy|pain|schmerz\w*|befund\w*|unauff[äa]llig|douleur|dolor|dolore|pijn|b[óo]l\w*|therap\w*|terapi\w*"
    r"|medication|medikament\w*|m[ée]dicament|medicamento|farmac\w*|medicijn\w*|leki|ward"
    r"|sick|krank\w*|malad\w*|enferm\w*|malat\w*|ziek\w*|chorob\w*)(?![^\W\d_]))"
)
