"""Every text a request carries out of the building, in one fixed order, and the request rebuilt around new texts.

The guard scans these texts and pseudonymization replaces values in them. A finding's ``message`` is the index
of its text in this order: each message's content first (so index ``i`` is message ``i``), or the prompt; then
the arguments of every assistant tool call in the history; the tool definitions (description, then the
parameter schema); the response format's schema; the string values of passthrough fields (``user``,
``metadata``, ``prediction``, ...); the ``stop`` sequences, one text each; and the messages' ``name`` fields.
JSON (arguments, schemas, passthrough values) is read as its string values, one text each, so that a
replacement lands inside a JSON string and the JSON stays valid.

A stop sequence is replaced as any other text of the request: a value in it gets the placeholder the same value
gets in the messages, so an external model stops where it writes that placeholder, as the local model would stop
where it writes the value.

A message's ``name`` (a participant's name, sent upstream with the message) is read with its underscores and
hyphens as spaces ("Jane_Roe" as "Jane Roe": the same length, so positions hold). Where a value in it is
replaced, the name is written back in the form OpenAI accepts there (no spaces, no "<" or ">"): "PERSON_1" for
"<PERSON_1>", underscores between words. A model that writes such a bare placeholder gets it back as written:
only placeholders in brackets are restored.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

from enclave.engines.base import GenerationRequest, ResponseFormat, ToolCall, ToolSpec

Visit = Callable[[str], str]

# Schema keywords whose string values are structure, not prose: a placeholder there would break the schema
# (``required`` lists property names; ``pattern`` is a regular expression).
_STRUCTURE = frozenset(
    {
        "type",
        "format",
        "pattern",
        "required",
        "$ref",
        "$schema",
        "$id",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "contentEncoding",
        "contentMediaType",
    }
)
_NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_NAME_GAPS = str.maketrans("_-", "  ")
_BRACKETED = re.compile(r"<([A-Z][A-Z0-9_]*_\d+)>")


def texts_of(request: GenerationRequest) -> list[str]:
    """The request's texts, in the order findings are indexed by."""
    messages = request.messages
    if not (
        request.tools
        or request.stop
        or request.passthrough
        or request.response_format.schema is not None
        or (messages and any(m.tool_calls or m.name for m in messages))
    ):
        # The common request, on every call's path: its messages (or its prompt) are all its text.
        return [m.content for m in messages] if messages is not None else [request.prompt or ""]
    texts: list[str] = []

    def keep(text: str) -> str:
        texts.append(text)
        return text

    _walk(request, keep)
    return texts


def with_texts(request: GenerationRequest, texts: list[str]) -> GenerationRequest:
    """``request`` with its texts (as ``texts_of`` lists them) replaced by ``texts``, in the same order."""
    replacements = iter(texts)
    return _walk(request, lambda _old: next(replacements))


def _walk(request: GenerationRequest, visit: Visit) -> GenerationRequest:
    """Visit every text in order; return the request rebuilt where a visit changed one (the same object if none)."""
    changes: dict[str, Any] = {}
    if request.messages is None:
        prompt = visit(request.prompt or "")
        if prompt != (request.prompt or ""):
            changes["prompt"] = prompt
    else:
        contents = [visit(m.content) for m in request.messages]
        calls = [tuple(_call(c, visit) for c in m.tool_calls) for m in request.messages]
        messages = tuple(
            dataclasses.replace(m, content=content, tool_calls=tool_calls)
            if content != m.content or tool_calls != m.tool_calls
            else m
            for m, content, tool_calls in zip(request.messages, contents, calls, strict=True)
        )
        if any(new is not old for new, old in zip(messages, request.messages, strict=True)):
            changes["messages"] = messages
    tools = tuple(_tool(t, visit) for t in request.tools)
    if tools != request.tools:
        changes["tools"] = tools
    response_format = _response_format(request.response_format, visit)
    if response_format != request.response_format:
        changes["response_format"] = response_format
    passthrough = _json(request.passthrough, visit, numbers=False)
    if passthrough != request.passthrough:
        changes["passthrough"] = passthrough
    stop = tuple(visit(sequence) for sequence in request.stop)
    if stop != request.stop:
        changes["stop"] = stop
    if request.messages is not None and any(m.name for m in request.messages):
        messages = changes.get("messages", request.messages)
        names = [_name(m.name, visit) if m.name else m.name for m in messages]
        if names != [m.name for m in messages]:
            changes["messages"] = tuple(
                dataclasses.replace(m, name=name) if name != m.name else m
                for m, name in zip(messages, names, strict=True)
            )
    return dataclasses.replace(request, **changes) if changes else request


def _name(name: str, visit: Visit) -> str:
    """A message's name, visited as the words it spells; written back as a name if a visit replaced a value."""
    readable = name.translate(_NAME_GAPS)
    new = visit(readable)
    return name if new == readable else "_".join(_BRACKETED.sub(r"\1", new).split())


def _call(call: ToolCall, visit: Visit) -> ToolCall:
    try:
        arguments = json.loads(call.arguments)
    except ValueError:
        # Not JSON (a small model's broken call in the history): one plain text, replaced as such.
        text = visit(call.arguments)
    else:
        # Identifiers are often written as numbers here ({"phone": 4155552671}): they are read too.
        new = _json(arguments, visit, numbers=True)
        text = call.arguments if new == arguments else json.dumps(new, ensure_ascii=False)
    return call if text == call.arguments else dataclasses.replace(call, arguments=text)


def _tool(tool: ToolSpec, visit: Visit) -> ToolSpec:
    description = visit(tool.description) if tool.description is not None else None
    parameters = _schema(tool.parameters, visit)
    if description == tool.description and parameters == tool.parameters:
        return tool
    return dataclasses.replace(tool, description=description, parameters=parameters)


def _response_format(response_format: ResponseFormat, visit: Visit) -> ResponseFormat:
    if response_format.schema is None:
        return response_format
    schema = _schema(response_format.schema, visit)
    return response_format if schema == response_format.schema else dataclasses.replace(response_format, schema=schema)


def _schema(schema: Any, visit: Visit) -> Any:
    """A JSON Schema's prose (descriptions, titles, enum values, defaults, examples), visited; its structure not."""
    if isinstance(schema, list):
        return [_schema(item, visit) for item in schema]
    if isinstance(schema, str):
        return visit(schema)
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _STRUCTURE:
            out[key] = value
        elif key in _NAMED_SCHEMAS and isinstance(value, dict):
            # Keys here are names (a property called "type" is no keyword); the values are schemas.
            out[key] = {name: _schema(sub, visit) for name, sub in value.items()}
        else:
            out[key] = _schema(value, visit)
    return out


def _json(value: Any, visit: Visit, *, numbers: bool) -> Any:
    """``value`` with its string values visited (and its integers, when ``numbers``: a replaced one becomes the
    placeholder string)."""
    if isinstance(value, str):
        return visit(value)
    if isinstance(value, dict):
        return {key: _json(item, visit, numbers=numbers) for key, item in value.items()}
    if isinstance(value, list):
        return [_json(item, visit, numbers=numbers) for item in value]
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        new = visit(text)
        return value if new == text else new
    return value
