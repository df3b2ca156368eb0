"""OpenAI wire types for the endpoints enclave serves, and their translation into engine requests.

Unknown fields are refused (400) rather than ignored, so a client never believes a setting was honoured when
it was not; fields the SDK commonly sends and that change nothing here are accepted by name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from enclave.engines.base import ChatMessage, GenerationRequest, SamplingParams
from enclave.errors import InvalidRequest

Probability = Annotated[float, Field(ge=0, le=1)]
Penalty = Annotated[float, Field(ge=-2, le=2)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Wire):
    type: Literal["text"]
    text: str


class Message(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def to_engine(self) -> ChatMessage:
        if self.content is None:
            raise InvalidRequest(f"a {self.role} message needs content (tool calls are not supported yet)",
                                 param="messages")
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        # Chat templates know "system"; OpenAI's newer name for it is "developer".
        return ChatMessage("system" if self.role == "developer" else self.role, text)


class StreamOptions(_Wire):
    include_usage: bool = False


class ResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class _Sampling(_Wire):
    """Fields shared by chat and text completions."""

    model: Annotated[str, Field(min_length=1)]
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Probability | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    min_p: Probability | None = None
    seed: int | None = None
    stop: str | Annotated[list[str], Field(max_length=16)] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    repeat_penalty: Annotated[float, Field(gt=0)] | None = None
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
    n: Annotated[int, Field(ge=1)] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    ignore_eos: bool = False
    user: str | None = None

    @field_validator("logit_bias")
    @classmethod
    def _token_ids(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for key in value or {}:
            if not key.lstrip("-").isdigit():
                raise ValueError(f"logit_bias keys are token ids, got {key!r}")
        return value

    def sampling(self) -> SamplingParams:
        if self.n not in (None, 1):
            raise InvalidRequest("only n=1 is supported", param="n")
        return SamplingParams(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            min_p=self.min_p,
            seed=self.seed,
            presence_penalty=self.presence_penalty or 0.0,
            frequency_penalty=self.frequency_penalty or 0.0,
            repeat_penalty=self.repeat_penalty,
            logit_bias={int(k): v for k, v in (self.logit_bias or {}).items()},
        )

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class ChatCompletionRequest(_Sampling):
    messages: Annotated[list[Message], Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    response_format: ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    # Accepted and without effect here: storage and tiers are hosted-API notions.
    store: bool | None = None
    metadata: dict[str, str] | None = None
    service_tier: str | None = None

    def to_engine(self) -> GenerationRequest:
        if self.tools:
            raise InvalidRequest("tool calling is not supported by this server yet", param="tools")
        if self.response_format is not None and self.response_format.type != "text":
            raise InvalidRequest("structured outputs (response_format) are not supported yet",
                                 param="response_format")
        if self.logprobs:
            raise InvalidRequest("logprobs are not supported yet", param="logprobs")
        return GenerationRequest(
            messages=tuple(m.to_engine() for m in self.messages),
            sampling=self.sampling(),
            max_tokens=self.max_completion_tokens or self.max_tokens,
            stop=self.stops(),
            ignore_eos=self.ignore_eos,
            stream=self.stream,
        )


class CompletionRequest(_Sampling):
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)]
    # OpenAI's legacy endpoint defaults to 16 tokens; clients rely on it.
    max_tokens: Annotated[int, Field(ge=1)] | None = 16
    echo: bool = False
    logprobs: int | None = None
    suffix: str | None = None
    best_of: int | None = None

    def to_engine(self) -> GenerationRequest:
        if self.echo:
            raise InvalidRequest("echo is not supported", param="echo")
        if self.suffix:
            raise InvalidRequest("suffix (fill-in-the-middle) is not supported", param="suffix")
        if self.logprobs:
            raise InvalidRequest("logprobs are not supported yet", param="logprobs")
        if self.best_of not in (None, 1):
            raise InvalidRequest("only best_of=1 is supported", param="best_of")
        prompt = self.prompt if isinstance(self.prompt, str) else self.prompt[0]
        return GenerationRequest(
            prompt=prompt,
            sampling=self.sampling(),
            max_tokens=self.max_tokens,
            stop=self.stops(),
            ignore_eos=self.ignore_eos,
            stream=self.stream,
        )
