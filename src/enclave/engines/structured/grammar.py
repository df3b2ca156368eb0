"""The llguidance grammar (Lark syntax with inline JSON Schemas) that an answer's tokens must follow.

JSON is written the way ``json.dumps`` writes it (``{"a": 1, "b": [2, 3]}``): no free whitespace, so a small
model cannot wander off into endless blank lines inside an object, and the parser of tool calls knows the
envelope exactly. llguidance is the final judge of a schema: a schema it cannot compile, or compiles with a
warning (its way of saying it approximated), is refused; it is never given its ``lenient`` option.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from llguidance import LLMatcher, LLParserLimits

from enclave.engines import tool_format
from enclave.errors import InvalidRequest

# On a refusal, how many subschemas are compiled alone to find the one at fault (each takes ~1 ms).
_MAX_PARTS_TRIED = 200
JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}

# Bounds on what one grammar may cost (llguidance's own defaults, made explicit and stated in docs/api.md):
# building the lexer may take ~20 ms, one token's mask ~15 ms at worst; past them the grammar is refused (at
# compile time) or the one sequence using it fails (while generating), never the engine.
PARSER_LIMITS = LLParserLimits(
    max_items_in_row=2_000,
    initial_lexer_fuel=1_000_000,
    step_lexer_fuel=200_000,
    step_max_items=50_000,
    max_lexer_states=250_000,
    max_grammar_size=500_000,
    verbose_errors=False,
)

# What the answer may be: a JSON value (response_format), calls only (tool_choice required or named), either
# (tools "auto" with a JSON response format), or text that may end in calls (tools "auto").
Shape = Literal["json", "calls", "json_or_calls", "text_or_calls"]


def json_rule(schema: dict[str, Any]) -> str:
    return "%json " + json.dumps({**schema, "x-guidance": JSON_STYLE}, ensure_ascii=False)


def _compile_problems(schema: dict[str, Any]) -> list[str]:
    grammar = LLMatcher.grammar_from_json_schema(schema, overrides=JSON_STYLE)  # type: ignore[arg-type]
    failed, messages = LLMatcher.validate_grammar_with_warnings(grammar, None, limits=PARSER_LIMITS)
    return messages or (["the grammar cannot be built"] if failed else [])


def check_compiles(schema: dict[str, Any], param: str, parts: Sequence[tuple[str, dict[str, Any]]] = ()) -> None:
    """Refuse a (checked, annotation-free) schema that llguidance cannot turn into an exact grammar.

    ``parts`` are the schema's subschemas with their paths, innermost first (``SchemaChecker.parts``): the
    refusal names the innermost one llguidance refuses on its own, and the keyword its message is about.
    """
    problems = _compile_problems(schema)
    if not problems:
        return
    where, at_fault = "$", schema
    definitions: dict[str, Any] = {key: schema[key] for key in ("$defs", "definitions") if key in schema}
    for path, part in parts[:_MAX_PARTS_TRIED]:
        if part is not schema and path != "$" and _compile_problems({**part, **definitions}):
            where, at_fault = path, part
            break
    said = " ".join(problems)
    keywords = [k for k in at_fault if k in said or (k.startswith("pattern") and "regex" in said)]
    if keywords:
        where += "." + max(keywords, key=len)  # "maxProperties" rather than the "properties" inside it
    raise InvalidRequest(f"{where}: the schema cannot be enforced exactly: {'; '.join(problems)}", param=param)


def _literal(text: str, special: frozenset[str]) -> str:
    # A marker that is one special token of the vocabulary must be matched as that token, not spelled out.
    return text if text in special else json.dumps(text)


def answer_grammar(
    shape: Shape,
    *,
    answer: dict[str, Any] | None = None,
    tools: dict[str, dict[str, Any]] | None = None,
    parallel: bool = True,
    special: frozenset[str] = frozenset(),
) -> str:
    """The grammar for one answer; ``tools`` maps each callable tool's name to its (checked) parameters."""
    opener = _literal(tool_format.OPEN, special)
    closer = _literal(tool_format.CLOSE, special)
    rules = ["%llguidance {}"]
    if shape == "json":
        rules.append("start: answer")
    elif shape == "calls":
        rules.append("start: calls")
    elif shape == "json_or_calls":
        rules.append("start: answer | calls")
    else:
        # Any text; once the text ends in the opener (lazy: at its first occurrence) a call must follow.
        more = f" ({json.dumps(tool_format.SEPARATOR)} call)*" if parallel else ""
        if tool_format.OPEN in special:
            rules.append(f"start: TEXT | TEXT {opener} call_body{more}")
        else:
            rules.append(f"start: TEXT | text_open call_body{more}")
            rules.append(f"text_open[lazy]: TEXT {opener}")
        rules.append(r"TEXT: /(.|\n)*/")
    if answer is not None:
        rules.append(f"answer: {json_rule(answer)}")
    if tools:
        rules.append(f"calls: call ({json.dumps(tool_format.SEPARATOR)} call)*" if parallel else "calls: call")
        rules.append(f"call: {opener} call_body")
        names = " | ".join(f"fn_{i}" for i in range(len(tools)))
        rules.append(f'call_body: "\\n" ({names}) "\\n" {closer}')
        for i, (name, parameters) in enumerate(tools.items()):
            head = json.dumps(tool_format.HEAD[1:] + name + tool_format.MIDDLE)
            rules.append(f'fn_{i}: {head} args_{i} "}}"')
            rules.append(f"args_{i}: {json_rule(parameters)}")
    return "\n".join(rules) + "\n"
