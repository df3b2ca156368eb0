"""One sequence's answer under a plan: text split into content and tool calls, and the check at the end."""

from __future__ import annotations

from enclave.engines.base import FinishReason, ToolCall, ToolCallDelta
from enclave.engines.structured.plan import AnswerPlan
from enclave.engines.tool_format import ToolCallParser
from enclave.errors import EngineFailed


class ShapedAnswer:
    """Feeds generated text through the tool-call parser (when calls are possible) and keeps what the final
    check needs. Used on the scheduler thread only."""

    def __init__(self, plan: AnswerPlan) -> None:
        self._plan = plan
        self._parser = ToolCallParser() if plan.parses_calls else None
        self._content: list[str] = []

    def feed(self, text: str) -> tuple[str, list[ToolCallDelta]]:
        content, deltas = self._parser.feed(text) if self._parser is not None else (text, [])
        self._content.append(content)
        return content, deltas

    def flush(self) -> str:
        held = self._parser.flush() if self._parser is not None else ""
        self._content.append(held)
        return held

    @property
    def calls(self) -> list[ToolCall]:
        """Complete calls, then the one being written when the answer was cut."""
        return self._parser.started if self._parser is not None else []

    def finish(self, reason: FinishReason) -> FinishReason:
        """The finish reason to report. A complete answer must pass the plan's checks (``EngineFailed`` if
        not: never returned as valid); one cut by ``max_tokens`` is not checked, and says "length"."""
        if reason != "stop":
            return reason
        calls = self._parser.calls if self._parser is not None else []
        if self._parser is not None and self._parser.in_call:
            raise EngineFailed("the answer ended inside a tool call")
        problem = self._plan.problem("".join(self._content), calls)
        if problem is not None:
            raise EngineFailed(f"the constrained answer failed its final validation: {problem}")
        return "tool_calls" if calls else "stop"
