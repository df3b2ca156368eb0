"""How far a company's name reaches, where capitals alone do not say: its first word (a sentence's verb, or
the name's own word on a letterhead), a word in brackets before its legal form, and names written in lower case
before one.
"""

from __future__ import annotations

from enclave.guard.name_words import FUNCTION_WORDS, LEGAL_SUFFIXES
from enclave.guard.tokens import Token, words_before

# Legal forms that are no English word in lower case either ("the company", "a day spa" are).
LOWER_CASE_FORMS = frozenset({"plc", "ltd", "inc", "llc", "llp", "gmbh", "corp"})


def parenthesised_before_suffix(text: str, tokens: list[Token], j: int) -> bool:
    """A capitalised word in brackets right before a legal suffix is part of the company's name."""
    return (
        j + 1 < len(tokens)
        and tokens[j].capital
        and tokens[j + 1].lower in LEGAL_SUFFIXES
        and text[tokens[j].end : tokens[j + 1].start] == ") "
    )


def standalone(text: str, start: int, ends_line: bool) -> bool:
    """Whether the run of words starting at ``start`` fills a line of a block of lines, marks and punctuation
    aside, or follows a colon; ``ends_line`` is what ``line_ends_after`` says of the run's end."""
    k = start - 1
    while k >= 0 and text[k] != "\n" and text[k].isspace():
        k -= 1
    if k >= 0 and text[k] == ":":
        return True
    return ends_line and not words_before(text, start)


def line_ends_after(text: str, end: int, multiline: bool) -> bool:
    """Whether only marks and punctuation follow ``end`` up to the end of its line (or of the text, in a text of
    several lines: a text of one line is a sentence or a heading). Read once per run of words, not once for each
    company in it."""
    k = end
    while k < len(text) and text[k] != "\n" and not text[k].isalnum():
        k += 1
    return text[k] == "\n" if k < len(text) else multiline


def after_opening(run: list[Token], kinds: list[str]) -> list[Token]:
    """The capitalised words of a run after the ordinary words and particles that open its sentence ("Shares
    in ..."); the last word is always kept."""
    k = 0
    while k < len(run) - 1 and (
        kinds[k] == "particle"
        or (kinds[k] == "none" and run[k].sentence_start and not run[k].upper and run[k].lower != "the")
        or (k > 0 and kinds[k - 1] == "none" and run[k - 1].sentence_start and not run[k].capital)
    ):
        k += 1
    return [t for t in run[k:] if t.capital]


def lower_case_company(tokens: list[Token], i: int) -> tuple[str, int, int] | None:
    """A legal form in lower case ends a company's name written in lower case from its second word: "W.A.G
    payment solutions plc"."""
    for k in range(i - 1, max(i - 4, -1), -1):
        if tokens[k].capital:
            if k == i - 1:
                return None  # "Acme plc": the capitalised run has it
            while k > 0 and tokens[k - 1].end == tokens[k].start:
                k -= 1  # "W.A.G"
            return "ORGANIZATION", tokens[k].start, tokens[i].end
        if tokens[k].lower in FUNCTION_WORDS:
            return None
    return None
