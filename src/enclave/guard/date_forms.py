"""How people write a calendar date in the guard's seven languages, as one pattern for ``guard.dates``.

Full dates: 2025-06-12, 1968/07/23, 12.06.2025, 12/06/25, 23-Jul-1968, 12 June 2025, 3rd March 1979, the 12th
of August 1990, 1er mars 1949, 1° agosto 1945, 5 de diciembre de 1967, 1 de ene. de 1975, June 5th, 1995,
12 mrt 1961, 4 lipca 1985. Short ones, a day and month alone (09/06, 10.06, 3 May, march 14), are dates only
where a cue stands right before them; the caller decides that from the group that matched (``full`` or
``short``).
"""

from __future__ import annotations

import re

# Month names and their short forms in the seven languages (Polish in the genitive, as dates write them). A short
# form may end in a dot; the ones that are also words ("mar", "set", "lis", "sie") only count beside a day.
MONTHS = (
    r"jan(?:uary|uar|vier|v)?|feb(?:ruary|ruar)?|f[ée]v(?:rier|r)?|mar(?:ch|s)?|m[äa]rz|mrz|mrt|apr(?:il)?|"
    r"avr(?:il)?|may|mai|jun(?:e|i)?|juin|jul(?:y|i)?|juil(?:let)?|aug(?:ust)?|ao[ûu]t|"
    r"sep(?:tember|tembre|t)?|oct(?:ober|obre)?|okt(?:ober)?|nov(?:ember|embre)?|"
    r"de[cz](?:ember)?|d[ée]cembre|d[ée]c|"
    r"enero|ene|febrero|marzo|abril|abr|mayo|junio|julio|agosto|ago|septiembre|setiembre|octubre|noviembre|"
    r"diciembre|dic|"
    r"gennaio|gen|febbraio|aprile|maggio|mag|giugno|giu|luglio|lug|settembre|set|ottobre|ott|dicembre|"
    r"januari|februari|maart|mei|juni|juli|augustus|oktober|"
    r"stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|wrze[sś]nia|pa[zź]dziernika|listopada|grudnia"
)
_MONTH = rf"(?:{MONTHS})\.?"
# A day as written before a month name: "3", "3.", "3rd", "1er", "1re", "1°", "1º".
_DAY = r"\d{1,2}(?:st|nd|rd|th|er|re|°|º|\.)?"
_DAY_MONTH = rf"{_DAY}\s(?:of\s|de\s)?{_MONTH}"
_MONTH_DAY = rf"{_MONTH}\s\d{{1,2}}(?:st|nd|rd|th)?"
_FULL = (
    r"\d{4}(?P<ymd>[-/.])\d{1,2}(?P=ymd)\d{1,2}|\d{1,2}(?P<dmy>[./-])\d{1,2}(?P=dmy)(?:\d{4}|\d{2})"
    rf"|\d{{1,2}}-{_MONTH}-(?:\d{{4}}|\d{{2}})|{_DAY_MONTH},?\s(?:de\s)?\d{{4}}|{_MONTH_DAY},?\s\d{{4}}"
)
_SHORT = rf"\d{{1,2}}[./]\d{{1,2}}|{_DAY_MONTH}|{_MONTH_DAY}"
# Not inside a longer dotted or slashed number (a version, an IP address), nor glued to a word; an ISO date may
# run on into its time ("2025-06-12T03:14"). The lookahead after the first one spares each word that is no
# month name before a number the trial of every month name.
DATE = re.compile(
    rf"(?<![\w./:-])(?=\d|[^\W\d_]{{3,9}}\.?\s\d)(?:(?P<full>{_FULL})|(?P<short>{_SHORT}))(?=T\d|(?![\w/-]|[.:]\d))",
    re.IGNORECASE,
)
