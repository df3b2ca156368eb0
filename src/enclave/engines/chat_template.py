"""Render chat messages into a prompt with the Jinja template the model ships in its GGUF metadata.

Tools go through the template when it has a tool format enclave knows (Hermes/Qwen-style ``<tool_call>``
blocks: the template gets ``tools`` and the messages' ``tool_calls`` and ``tool`` results as the Hugging Face
convention has them); otherwise enclave writes them into plain messages itself (``tool_format``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NoReturn

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from enclave.engines import tool_format
from enclave.engines.base import ChatMessage, ToolSpec
from enclave.errors import InvalidRequest

# Models without a template in their metadata get ChatML, the most common format among small instruct models.
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None, sort_keys: bool = False
) -> str:
    # Hugging Face's tojson: Jinja's own escapes <, > and & for HTML, which would garble JSON in a prompt.
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _message(message: ChatMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": tool_format.arguments_value(call)},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        data["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        data["name"] = message.name
    return data


def _raise(message: str) -> NoReturn:
    raise InvalidRequest(f"the model's chat template refused these messages: {message}", param="messages")


class ChatTemplate:
    """A compiled template; rendering is pure and safe to call from any thread."""

    def __init__(self, source: str, *, bos_token: str, eos_token: str) -> None:
        # The template comes from a model file: sandbox it like any untrusted Jinja.
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loader=jinja2.BaseLoader())
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        env.filters["tojson"] = _tojson
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"chat template does not compile: {exc}") from exc
        self._bos = bos_token
        self._eos = eos_token
        self.supports_tools = tool_format.OPEN in source and "tools" in source

    def render(self, messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...] = ()) -> str:
        """The prompt for ``messages``, describing ``tools`` to the model when there are any."""
        if not self.supports_tools:
            messages, tools = tool_format.generic_messages(messages, tools), ()
        data = [_message(m) for m in messages]
        definitions = [tool_format.tool_definition(t) for t in tools] or None
        try:
            return self._template.render(
                messages=data,
                tools=definitions,
                add_generation_prompt=True,
                bos_token=self._bos,
                eos_token=self._eos,
            )
        except InvalidRequest:
            raise
        except jinja2.TemplateError as exc:
            raise InvalidRequest(f"the model's chat template failed on these messages: {exc}") from exc
