"""A person's patient, insurance and staff numbers after the words that name them, in a text that names the person.

"Unit no. 448291", "Pt ID: 7731-2290", "Chart number 883201", "Insurance member ID: XKD448102937",
"Pat.-Nr. 10448291", "Versichertennummer: A123456780", "n° patient 7738291", "Nº de historia 2025/3381",
"Codice paziente: PZ-448210", "Numero nosologico 25004471", "Dossiernr. 2025-8812", "Nr pacjenta: 448291" are
medical record numbers; "employee ID E-40412", "Personalnummer 004471", "matricule 88213", "personeelsnummer",
"nr ewidencyjny" are staff numbers (EMPLOYEE_ID). Several of these words number things as well (a chart on a
dashboard, a unit in an asset register), so enclave.guard.context runs this only over a text that already names
a person; the words that name nothing but a patient's record are read everywhere by
``recognizers.MedicalRecordNumber``. A number is a run of capitals and digits, "/", "-" or "." inside, holding at
least three digits: "Ward 7B" is no record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_RECORD = (
    r"unit (?:no|number|#)|patient (?:#|no|number|id|ref)|pt\.? ?(?:id|no|#|number)"
    r"|(?:medical |health |patient )?record (?:no|number|#)|chart (?:no|number|#)"
    r"|(?:(?:health )?insurance|health plan|medicaid|medicare)(?: member)? (?:id|no|number|#)"
    r"|member (?:id|no|number)"
    r"|pat\.?-? ?nr|patienten-?(?:id|nummer|nr)|versicherten-?(?:nummer|nr)|kv-?nr|kvnr"
    r"|krankenversicherungs-?(?:nummer|nr)|krankenkassen-?(?:nummer|nr)|aufnahme-?(?:nummer|nr)|fall-?(?:nummer|nr)"
    r"|n[º°o]\.? ?(?:de )?(?:patient|s[ée]jour)|num[ée]ro (?:de )?(?:patient|s[ée]jour)"
    r"|n[º°o]\.? ?d'assur[ée]|num[ée]ro d'assur[ée]"
    r"|n[º°o]\.? ?(?:de )?(?:historia|paciente|afiliaci[óo]n)|historia (?:n[º°o]|num)"
    r"|n[úu]mero (?:de )?(?:historia|paciente|afiliaci[óo]n)|c[óo]digo (?:de )?paciente|tarjeta sanitaria"
    r"|cartella(?: n|nr| numero| n[º°])|codice paziente|(?:id|n|numero) paziente|(?:numero )?nosologico"
    r"|tessera sanitaria"
    r"|pati[ëe]nt ?(?:nummer|nr|id)|dossier ?(?:nr|nummer)|ziekenhuisnummer|zis-?nummer|verzekerdennummer"
    r"|zorgverzekering(?:s)?nummer"
    r"|(?:nr|numer|id) pacjenta|(?:nr|numer) ksi[ęe]gi g[łl][óo]wnej|(?:nr|numer) (?:karty|historii)"
    r"|(?:nr|numer) ubezpieczenia"
)
_STAFF = (
    r"employee (?:id|no|number|#)|emp\.? ?(?:id|no)|staff (?:id|no|number|#)|payroll (?:id|no|number)"
    r"|personnel (?:no|number)|personal-?(?:nummer|nr)|mitarbeiter-?(?:nummer|nr|id)"
    r"|(?:n[º°o]\.? ?(?:de )?)?matricule|n[úu]mero de empleado|(?:n[º°o]\.? ?|id )(?:de )?empleado|matricola"
    r"|personeels(?:nummer|nr)|werknemersnummer|(?:nr|numer) (?:pracownika|ewidencyjny)"
)
# Read from the numbers back: a text has far fewer runs of three digits than word starts, and each word start
# would otherwise try every cue. The cue must end right before the number, with its "." and a ":" or "#" between.
_VALUE = re.compile(r"(?<![\w/.-])[A-Z0-9](?:[A-Z0-9]|[/.-](?=[A-Z0-9])){3,23}(?![\w/-])")
_CUE = re.compile(rf"(?i:(?<![^\W\d_])(?:(?P<record>{_RECORD})|(?P<staff>{_STAFF}))(?![^\W\d_]))\.?\s*+(?:[:#]\s*+)?\Z")
_REACH = 48  # characters before a number in which its cue must stand: the longest cue and its punctuation


class RecordNumbers:
    """MEDICAL_RECORD_NUMBER and EMPLOYEE_ID findings after the words that name them (see the module)."""

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        for m in _VALUE.finditer(text):
            if sum(c.isdigit() for c in m.group()) < 3:
                continue
            cue = _CUE.search(text, max(0, m.start() - _REACH), m.start())
            if cue is not None:
                kind = "MEDICAL_RECORD_NUMBER" if cue["record"] is not None else "EMPLOYEE_ID"
                yield kind, m.start(), m.end()
