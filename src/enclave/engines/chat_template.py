"""Render chat messages into a prompt with the Jinja template the model ships in its GGUF metadata."""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from enclave.engines.base import ChatMessage
from enclave.errors import InvalidRequest

# Models without a template in their metadata get ChatML, the most common format among small instruct models.
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _raise(message: str) -> NoReturn:
    raise InvalidRequest(f"the model's chat template refused these messages: {message}", param="messages")


class ChatTemplate:
    """A compiled template; rendering is pure and safe to call from any thread."""

    def __init__(self, source: str, *, bos_token: str, eos_token: str) -> None:
        # The template comes from a model file: sandbox it like any untrusted Jinja.
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loader=jinja2.BaseLoader())
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"chat template does not compile: {exc}") from exc
        self._bos = bos_token
        self._eos = eos_token

    def render(self, messages: tuple[ChatMessage, ...]) -> str:
        data = [{"role": m.role, "content": m.content} for m in messages]
        try:
            return self._template.render(
                messages=data, add_generation_prompt=True, bos_token=self._bos, eos_token=self._eos
            )
        except InvalidRequest:
            raise
        except jinja2.TemplateError as exc:
            raise InvalidRequest(f"the model's chat template failed on these messages: {exc}") from exc
