"""What a request's answer must look like, decided once before the request is queued.

``plan_answer`` checks everything the client said about the answer's shape (``response_format``, ``tools``,
``tool_choice``, ``parallel_tool_calls``) and refuses what cannot be enforced with a 400 naming the field,
so that nothing fails after the first token for a reason known before it. The plan carries the grammar the
sampler enforces and the validators the finished answer must pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from enclave.engines import tool_format
from enclave.engines.base import GenerationRequest, ToolCall
from enclave.engines.structured.grammar import Shape, answer_grammar, check_compiles
from enclave.engines.structured.schema import SchemaChecker
from enclave.engines.structured.validation import SchemaValidator
from enclave.errors import InvalidRequest

_JSON_OBJECT: dict[str, Any] = {"type": "object"}


@dataclass(frozen=True, slots=True)
class AnswerPlan:
    """The grammar of one request's answers and the checks each finished answer must pass."""

    grammar: str
    shape: Shape
    tools_in_prompt: bool
    content: SchemaValidator | None = None  # the JSON answer's schema (json_object: any object)
    arguments: dict[str, SchemaValidator] = field(default_factory=dict)  # per callable tool

    @property
    def parses_calls(self) -> bool:
        return self.shape != "json"

    @property
    def param(self) -> str:
        """The request field a problem with the grammar as a whole is blamed on."""
        return "response_format" if self.shape == "json" else "tools"

    def problem(self, content: str, calls: list[ToolCall]) -> str | None:
        """Why a complete answer does not satisfy the request (None when it does)."""
        if self.shape == "calls" and not calls:
            return "the answer holds no tool call"
        for call in calls:
            validator = self.arguments.get(call.name)
            if validator is None:
                return f"the answer calls {call.name!r}, which the request does not allow"
            try:
                arguments = json.loads(call.arguments)
            except ValueError:
                return f"the arguments of {call.name!r} are not JSON"
            problem = validator.problem(arguments)
            if problem is not None:
                return f"the arguments of {call.name!r} do not match its parameters: {problem}"
        if self.content is not None and not calls:
            try:
                value = json.loads(content)
            except ValueError:
                return "the answer is not JSON"
            return self.content.problem(value)
        return None


def plan_answer(request: GenerationRequest, special: frozenset[str] = frozenset()) -> AnswerPlan | None:
    """The plan for ``request``, or None when its answer is free text (no grammar, no checks).

    ``special`` names the tool-call markers that are single special tokens of the model's vocabulary.
    """
    choice = request.tool_choice
    tools = request.tools
    tool_format.check_tool_names(tools)
    offered = {tool.name for tool in tools}
    if choice not in ("none", "auto", "required") and choice not in offered:
        raise InvalidRequest(f"tool_choice names {choice!r}, which is not among the tools", param="tool_choice")
    if choice == "required" and not tools:
        raise InvalidRequest("tool_choice 'required' needs tools", param="tool_choice")
    if tools and request.messages is None:
        raise InvalidRequest("tools need a chat request (messages)", param="tools")
    calling = bool(tools) and choice != "none"
    response = request.response_format
    if response.type == "text" and not calling:
        return None

    content: SchemaValidator | None = None
    answer: dict[str, Any] | None = None
    if response.type == "json_object":
        answer, content = _JSON_OBJECT, SchemaValidator(_JSON_OBJECT, "response_format")
    elif response.type == "json_schema":
        if response.schema is None:
            raise InvalidRequest("response_format json_schema needs a schema", param="response_format")
        checker = SchemaChecker("response_format")
        answer = checker.check(response.schema)
        content = SchemaValidator(response.schema, "response_format")
        check_compiles(answer, "response_format", checker.parts)

    callable_tools: dict[str, dict[str, Any]] = {}
    arguments: dict[str, SchemaValidator] = {}
    if calling:
        for i, tool in enumerate(tools):
            if choice not in ("auto", "required") and tool.name != choice:
                continue
            param = f"tools.{i}.function.parameters"
            checker = SchemaChecker(param)
            parameters = checker.check(tool.parameters)
            if parameters.get("type", "object") != "object":
                raise InvalidRequest("$.type: a tool's parameters must describe a JSON object", param=param)
            # Arguments are an object whatever the schema leaves open (OpenAI sends them as one).
            parameters = {"type": "object", **parameters}
            check_compiles(parameters, param, checker.parts)
            callable_tools[tool.name] = parameters
            arguments[tool.name] = SchemaValidator(tool.parameters, param)

    shape: Shape
    if not calling:
        shape = "json"
    elif choice != "auto":
        shape = "calls"  # required or named: a call from the first token, whatever the response format says
    else:
        shape = "json_or_calls" if answer is not None else "text_or_calls"

    if shape != "text_or_calls" and request.stop:
        raise InvalidRequest(
            "stop sequences cannot end an answer whose shape is enforced (a JSON response format or a forced "
            "tool call): the grammar decides where it ends",
            param="stop",
        )
    if request.ignore_eos:
        raise InvalidRequest(
            "ignore_eos cannot be combined with tools or a JSON response format: the grammar decides where the "
            "answer ends",
            param="ignore_eos",
        )
    # A named tool_choice asks for that one call; several calls only where the model chooses the tools.
    parallel = request.parallel_tool_calls and choice in ("auto", "required")
    grammar = answer_grammar(shape, answer=answer, tools=callable_tools, parallel=parallel, special=special)
    return AnswerPlan(grammar, shape, calling, content, arguments)
