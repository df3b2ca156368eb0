"""How tool calls look in a prompt and in generated text: the Hermes format, and a streaming parser for it.

A call is written as::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

several calls one after the other, separated by a newline. This is the format of Hermes- and Qwen-style chat
templates, which render ``tools`` themselves; enclave then passes the template ``tools=`` and the messages
with their ``tool_calls`` and ``tool`` results unchanged. For a template without tool support (SmolLM2's),
enclave writes the same format itself: the tools are described in the system message, an assistant's earlier
calls are written back into its text in the format above, and tool results go to the model as a user message
holding ``<tool_response>...</tool_response>`` blocks. Either way the grammar, the parser and the round trip
are the same.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from enclave.engines.base import ChatMessage, ToolCall, ToolCallDelta, ToolSpec
from enclave.errors import EngineFailed, InvalidRequest

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
SEPARATOR = "\n"  # between two calls
# The exact envelope the grammar forces around a call's arguments object.
HEAD = '\n{"name": "'
MIDDLE = '", "arguments": '
TAIL = "}\n" + CLOSE

_ID_ALPHABET = string.ascii_letters + string.digits
# Whitespace before the arguments belongs to the envelope: the head is complete once the arguments begin.
_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"([A-Za-z0-9_-]{1,64})"\s*,\s*"arguments"\s*:\s*(?=\S)')
_TAIL = re.compile(r"\s*\}\s*" + re.escape(CLOSE))

TOOLS_PROMPT = """# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> \
XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""


def call_id() -> str:
    """An id in OpenAI's shape (``call_`` and 24 letters and digits)."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def tool_definition(tool: ToolSpec) -> dict[str, Any]:
    """A tool as OpenAI sends it: what a chat template's ``tools`` variable and the generic prompt show."""
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    return {"type": "function", "function": function}


def arguments_value(call: ToolCall) -> Any:
    """A call's arguments as a JSON value (templates print them with ``tojson``); the text if it is not JSON."""
    try:
        return json.loads(call.arguments)
    except ValueError:
        return call.arguments


def written_call(name: str, arguments: str) -> str:
    """One call as the model writes it (and as the grammar forces it)."""
    # Arguments that are not JSON are written back as the client sent them: the model reads them, nothing parses.
    with contextlib.suppress(ValueError):
        arguments = json.dumps(json.loads(arguments), ensure_ascii=False)
    return OPEN + HEAD + name + MIDDLE + arguments + TAIL


def generic_messages(messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...]) -> tuple[ChatMessage, ...]:
    """Messages for a template that knows no tools: everything about tools written into plain text."""
    out: list[ChatMessage] = []
    if tools:
        described = TOOLS_PROMPT.format(tools="\n".join(json.dumps(tool_definition(t)) for t in tools))
        if messages and messages[0].role == "system":
            out.append(ChatMessage("system", messages[0].content + "\n\n" + described))
            messages = messages[1:]
        else:
            out.append(ChatMessage("system", described))
    for message in messages:
        if message.role == "tool":
            block = f"<tool_response>\n{message.content}\n</tool_response>"
            if out and out[-1].role == "user" and out[-1].content.startswith("<tool_response>"):
                out[-1] = ChatMessage("user", out[-1].content + "\n" + block)
            else:
                out.append(ChatMessage("user", block))
        elif message.role == "assistant" and message.tool_calls:
            calls = SEPARATOR.join(written_call(c.name, c.arguments) for c in message.tool_calls)
            out.append(ChatMessage("assistant", (message.content + "\n" if message.content else "") + calls))
        else:
            out.append(ChatMessage(message.role, message.content))
    return tuple(out)


def check_tool_names(tools: tuple[ToolSpec, ...]) -> None:
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tool.name):
            raise InvalidRequest(
                f"tool name {tool.name!r} must be 1 to 64 letters, digits, underscores or dashes",
                param=f"tools.{i}.function.name",
            )
        if tool.name in seen:
            raise InvalidRequest(f"two tools are named {tool.name!r}", param=f"tools.{i}.function.name")
        seen.add(tool.name)


@dataclass(slots=True)
class _Call:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)
    depth: int = 0
    in_string: bool = False
    escaped: bool = False
    done: bool = False  # the arguments object is closed


class ToolCallParser:
    """Splits generated text into content and tool calls, piece by piece.

    ``feed`` returns what can be told now: content text (holding back only a tail that could be the start of
    ``<tool_call>``) and call deltas: a call's id and name as soon as its name is complete, then fragments of
    its arguments as they arrive. The grammar guarantees the envelope; text that breaks it (only possible
    without a grammar) raises ``EngineFailed``.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._call: _Call | None = None
        self.calls: list[ToolCall] = []

    @property
    def in_call(self) -> bool:
        return self._call is not None

    @property
    def started(self) -> list[ToolCall]:
        """The complete calls, then the one being written (its arguments so far), if any."""
        call = self._call
        if call is None or not call.name:
            return list(self.calls)
        return [*self.calls, ToolCall(call.id, call.name, "".join(call.arguments))]

    def feed(self, text: str) -> tuple[str, list[ToolCallDelta]]:
        self._buffer += text
        content: list[str] = []
        deltas: list[ToolCallDelta] = []
        while self._buffer:
            call = self._call
            if call is None:
                at = self._buffer.find(OPEN)
                if at < 0:
                    keep = _partial_tail(self._buffer, OPEN)
                    if not self.calls:  # text after calls is not content: only a separator may follow
                        content.append(self._buffer[: len(self._buffer) - keep])
                    elif self._buffer[: len(self._buffer) - keep].strip():
                        raise EngineFailed("the model wrote text after its tool calls")
                    self._buffer = self._buffer[len(self._buffer) - keep :]
                    break
                if not self.calls:
                    content.append(self._buffer[:at])
                self._buffer = self._buffer[at + len(OPEN) :]
                self._call = _Call("", "")
            elif not call.name:
                head = _HEAD.match(self._buffer)
                if head is None:
                    if len(self._buffer) > 128:
                        raise EngineFailed("the model wrote a tool call that does not parse")
                    break
                call.id, call.name = call_id(), head.group(1)
                deltas.append(ToolCallDelta(len(self.calls), id=call.id, name=call.name))
                self._buffer = self._buffer[head.end() :]
            elif not call.done:
                taken = _scan_arguments(call, self._buffer)
                fragment, self._buffer = self._buffer[:taken], self._buffer[taken:]
                call.arguments.append(fragment)
                deltas.append(ToolCallDelta(len(self.calls), arguments=fragment))
            else:
                tail = _TAIL.match(self._buffer)
                if tail is None:
                    if len(self._buffer) > 64:
                        raise EngineFailed("the model wrote a tool call that does not parse")
                    break
                self._buffer = self._buffer[tail.end() :]
                self.calls.append(ToolCall(call.id, call.name, "".join(call.arguments)))
                self._call = None
        return "".join(content), [d for d in deltas if d.name or d.arguments]

    def flush(self) -> str:
        """Held-back content at the end of the answer (a tail that only looked like a call's start)."""
        held, self._buffer = self._buffer, ""
        return held if self._call is None and not self.calls else ""


def _partial_tail(text: str, marker: str) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of ``marker``."""
    for length in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-length:]):
            return length
    return 0


def _scan_arguments(call: _Call, text: str) -> int:
    """How much of ``text`` belongs to the arguments object; marks the call done when the object closes."""
    for i, char in enumerate(text):
        if call.in_string:
            if call.escaped:
                call.escaped = False
            elif char == "\\":
                call.escaped = True
            elif char == '"':
                call.in_string = False
        elif char == '"':
            call.in_string = True
        elif char in "{[":
            call.depth += 1
        elif char in "}]":
            call.depth -= 1
            if call.depth == 0:
                call.done = True
                return i + 1
    return len(text)
