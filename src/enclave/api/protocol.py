"""OpenAI wire types for the endpoints enclave serves, and their translation into engine requests.

Unknown fields are refused (400) rather than ignored, so a client never believes a setting was honoured when
it was not. Valid OpenAI fields enclave does not interpret (``user``, ``metadata``, ``service_tier``, ...) are
accepted by name and handed to upstream targets unchanged. Every refusal names its field as OpenAI's ``param``,
a dotted path with list indexes as parts (``messages.2.tool_call_id``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from enclave.api.bounds import EndUser, Metadata, ModelName
from enclave.engines import base as engine
from enclave.errors import InvalidRequest

Probability = Annotated[float, Field(ge=0, le=1)]
Penalty = Annotated[float, Field(ge=-2, le=2)]
# OpenAI's rule for function and schema names.
Name = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
MAX_TOOLS = 128
MAX_CHOICES = 128


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CacheBreakpoint(_Wire):
    mode: Literal["explicit"]


class TextPart(_Wire):
    type: Literal["text"]
    text: str
    prompt_cache_breakpoint: CacheBreakpoint | None = None  # a hosted cache's hint: accepted, without effect


class ImageURL(_Wire):
    url: Annotated[str, Field(min_length=1)]
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Wire):
    type: Literal["image_url"]
    image_url: ImageURL
    prompt_cache_breakpoint: CacheBreakpoint | None = None


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]
_CONTENT_PARTS: TypeAdapter[list[TextPart | ImagePart]] = TypeAdapter(list[ContentPart])


class FunctionCall(_Wire):
    name: Annotated[str, Field(min_length=1)]
    arguments: str  # JSON text, as the model wrote it
    # The SDK's parse() result echoed back in a later request: the parsed form of ``arguments``, dropped.
    parsed_arguments: Any = None


class ToolCall(_Wire):
    id: Annotated[str, Field(min_length=1)]
    type: Literal["function"]
    function: FunctionCall


class Message(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None  # assistant
    tool_call_id: str | None = None  # tool
    refusal: str | None = None  # assistant: an earlier refusal, read as its content
    # OpenAI's assistant messages may say these are null (a response echoed back whole); a value is refused.
    function_call: None = None
    audio: None = None
    # What the SDK's parse() and hosted answers add to an assistant message that is sent back whole: the parsed
    # form of ``content`` and citations. Read-only views of the answer, dropped.
    parsed: Any = None
    annotations: list[Any] | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _content(cls, value: Any) -> Any:
        """One error naming the part at fault (left to the union, pydantic would report each branch it tried)."""
        if isinstance(value, list):
            try:
                return _CONTENT_PARTS.validate_python(value)
            except ValidationError as exc:
                error = exc.errors()[0]
                loc = list(error["loc"])
                part = value[loc[0]] if loc and isinstance(loc[0], int) else None
                if len(loc) > 1 and isinstance(part, dict) and loc[1] == part.get("type"):
                    del loc[1]  # the union's tag, which pydantic puts in the path
                where = ".".join(str(p) for p in loc)
                raise ValueError(f"part {where}: {error['msg']} (parts are of type text or image_url)") from None
        if value is not None and not isinstance(value, str):
            raise ValueError("content is a string, a list of content parts, or null")
        return value

    def to_engine(self, at: str = "message") -> engine.ChatMessage:
        """This message alone, checked for what its role allows; ``at`` is its path (``messages.3``) for errors."""
        if self.tool_calls is not None and self.role != "assistant":
            raise InvalidRequest(
                f"only assistant messages carry tool_calls, not {self.role} messages", param=f"{at}.tool_calls"
            )
        if self.role == "tool":
            if self.tool_call_id is None:
                raise InvalidRequest(
                    "a tool message needs the tool_call_id of the call it answers", param=f"{at}.tool_call_id"
                )
        elif self.tool_call_id is not None:
            raise InvalidRequest("only tool messages carry a tool_call_id", param=f"{at}.tool_call_id")
        calls = tuple(engine.ToolCall(c.id, c.function.name, c.function.arguments) for c in self.tool_calls or ())
        content = self.content if self.content is not None else self.refusal
        if content is None and not calls:
            detail = "content or tool_calls" if self.role == "assistant" else "content"
            raise InvalidRequest(f"{self.role} messages need {detail}", param=f"{at}.content")
        images: list[dict[str, Any]] = []
        if isinstance(content, list):
            for i, part in enumerate(content):
                if isinstance(part, ImagePart):
                    if self.role != "user":
                        raise InvalidRequest("only user messages may carry images", param=f"{at}.content.{i}")
                    images.append(part.model_dump(exclude_none=True, exclude={"prompt_cache_breakpoint"}))
            content = "".join(p.text for p in content if isinstance(p, TextPart))
        # Chat templates know "system"; OpenAI's newer name for it is "developer".
        role = "system" if self.role == "developer" else self.role
        return engine.ChatMessage(role, content or "", calls, self.tool_call_id, self.name, tuple(images))


class FunctionDefinition(_Wire):
    name: Name
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Wire):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Wire):
    name: str


class NamedToolChoice(_Wire):
    type: Literal["function"]
    function: NamedFunction


class JSONSchema(_Wire):
    name: Name
    description: str | None = None
    # "schema" is a BaseModel attribute: the field has another name and the wire's name as its alias.
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchema | None = None

    def to_engine(self) -> engine.ResponseFormat:
        if self.type != "json_schema":
            if self.json_schema is not None:
                raise InvalidRequest(
                    f"json_schema goes with type json_schema, not {self.type}", param="response_format.json_schema"
                )
            return engine.ResponseFormat(self.type)
        spec = self.json_schema
        if spec is None:
            raise InvalidRequest("type json_schema needs json_schema", param="response_format.json_schema")
        if spec.schema_ is None:
            # OpenAI's schema is optional: without one, the answer is a JSON object of any shape.
            return engine.ResponseFormat("json_object", name=spec.name, strict=bool(spec.strict))
        if problem := schema_problem(spec.schema_):
            raise InvalidRequest(
                f"response_format {spec.name!r}: not a JSON Schema: {problem}", param="response_format"
            )
        return engine.ResponseFormat("json_schema", spec.schema_, spec.name, bool(spec.strict), spec.description)


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a valid JSON Schema (checked against its draft's meta-schema, 2020-12 unless it
    names another), or None when it is."""
    dialect = schema.get("$schema")
    if dialect is not None and not isinstance(dialect, str):
        return "$schema must be a string"
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"{exc.message} (at {exc.json_path})"
    except RecursionError:
        return "nested too deeply"
    return None


class StreamOptions(_Wire):
    include_usage: bool = False
    include_obfuscation: bool | None = None  # a hosted API's padding against side channels: without effect


class _Sampling(_Wire):
    """Fields shared by chat and text completions."""

    # Valid OpenAI fields enclave does not interpret: upstream targets receive them unchanged, the embedded
    # engine ignores them.
    PASSTHROUGH: ClassVar[tuple[str, ...]] = ("user",)

    model: ModelName
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
    n: Annotated[int, Field(ge=1, le=MAX_CHOICES)] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    ignore_eos: bool = False
    user: EndUser | None = None

    @field_validator("logit_bias")
    @classmethod
    def _token_ids(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for key in value or {}:
            if not key.lstrip("-").isdigit():
                raise ValueError(f"logit_bias keys are token ids, got {key!r}")
        return value

    def sampling(self) -> engine.SamplingParams:
        return engine.SamplingParams(
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

    def passthrough(self) -> dict[str, Any]:
        """The uninterpreted fields the client sent, as it sent them."""
        sent = self.model_fields_set
        return {
            name: getattr(self, name) for name in self.PASSTHROUGH if name in sent and getattr(self, name) is not None
        }

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class ChatCompletionRequest(_Sampling):
    PASSTHROUGH: ClassVar[tuple[str, ...]] = (
        "user",
        "metadata",
        "store",
        "service_tier",
        "prediction",
        "reasoning_effort",
        "modalities",
        "audio",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "safety_identifier",
        "verbosity",
        "web_search_options",
        "moderation",
    )

    messages: Annotated[list[Message], Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    response_format: ResponseFormat | None = None
    tools: Annotated[list[Tool], Field(max_length=MAX_TOOLS)] | None = None
    # Checked in to_engine, so that every way of getting it wrong is a 400 naming just "tool_choice".
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    # Replaced by tools and tool_choice; named here to say so rather than "unrecognized".
    functions: list[Any] | None = None
    function_call: Any = None
    # Passed through (see PASSTHROUGH); their values are the upstream's to judge.
    metadata: Metadata | None = None
    store: bool | None = None
    service_tier: str | None = None
    prediction: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = None
    verbosity: str | None = None
    web_search_options: dict[str, Any] | None = None
    moderation: dict[str, Any] | None = None

    def to_engine(self) -> engine.GenerationRequest:
        for legacy in ("functions", "function_call"):
            if getattr(self, legacy) is not None:
                raise InvalidRequest(
                    f"{legacy} is OpenAI's deprecated form of tool calling: send tools and tool_choice instead",
                    param=legacy,
                )
        if self.top_logprobs and not self.logprobs:
            raise InvalidRequest("top_logprobs needs logprobs: true", param="top_logprobs")
        tools = self._tools()
        return engine.GenerationRequest(
            messages=self._messages(),
            sampling=self.sampling(),
            max_tokens=self.max_completion_tokens or self.max_tokens,
            stop=self.stops(),
            ignore_eos=self.ignore_eos,
            stream=self.stream,
            tools=tools,
            tool_choice=self._tool_choice(tools),
            parallel_tool_calls=self.parallel_tool_calls if self.parallel_tool_calls is not None else True,
            response_format=self.response_format.to_engine() if self.response_format else engine.ResponseFormat(),
            n=self.n or 1,
            logprobs=bool(self.logprobs),
            top_logprobs=self.top_logprobs or 0,
            passthrough=self.passthrough(),
        )

    def _messages(self) -> tuple[engine.ChatMessage, ...]:
        called: set[str] = set()
        messages = []
        for i, message in enumerate(self.messages):
            messages.append(converted := message.to_engine(f"messages.{i}"))
            if converted.tool_call_id is not None and converted.tool_call_id not in called:
                raise InvalidRequest(
                    f"tool_call_id {converted.tool_call_id!r} answers no tool call of an earlier assistant message",
                    param=f"messages.{i}.tool_call_id",
                )
            called.update(c.id for c in converted.tool_calls)
        return tuple(messages)

    def _tools(self) -> tuple[engine.ToolSpec, ...]:
        specs: list[engine.ToolSpec] = []
        for i, tool in enumerate(self.tools or ()):
            function = tool.function
            if any(spec.name == function.name for spec in specs):
                raise InvalidRequest(f"two tools are named {function.name!r}", param=f"tools.{i}.function.name")
            parameters = (
                function.parameters if function.parameters is not None else {"type": "object", "properties": {}}
            )
            problem = schema_problem(parameters)
            if problem is None and parameters.get("type", "object") != "object":
                problem = f'the arguments are an object: type must be "object", not {parameters["type"]!r}'
            if problem is not None:
                raise InvalidRequest(
                    f"tool {function.name!r}: parameters is not a JSON Schema of an object: {problem}",
                    param=f"tools.{i}.function.parameters",
                )
            specs.append(engine.ToolSpec(function.name, function.description, parameters, bool(function.strict)))
        return tuple(specs)

    def _tool_choice(self, tools: tuple[engine.ToolSpec, ...]) -> engine.ToolChoice:
        if not tools:
            for field in ("tool_choice", "parallel_tool_calls"):
                if getattr(self, field) is not None:
                    raise InvalidRequest(f"{field} needs tools", param=field)
            return "auto"
        choice = self.tool_choice
        if choice is None:
            return "auto"
        if choice in ("none", "auto", "required"):
            return str(choice)
        try:
            name = NamedToolChoice.model_validate(choice).function.name
        except ValidationError:
            raise InvalidRequest(
                'tool_choice is "none", "auto", "required" or {"type": "function", "function": '
                f'{{"name": ...}}}}, not {json.dumps(choice)[:200]}',
                param="tool_choice",
            ) from None
        if not any(t.name == name for t in tools):
            raise InvalidRequest(f"tool_choice names {name!r}, which is not among the tools", param="tool_choice")
        return name


class CompletionRequest(_Sampling):
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)]
    # OpenAI's legacy endpoint defaults to 16 tokens; clients rely on it.
    max_tokens: Annotated[int, Field(ge=1)] | None = 16
    echo: bool = False
    # The legacy form: how many alternatives to list per token (0: the chosen token's logprob only).
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    suffix: str | None = None
    best_of: int | None = None

    def to_engine(self) -> engine.GenerationRequest:
        if self.echo:
            raise InvalidRequest("echo is not supported", param="echo")
        if self.suffix:
            raise InvalidRequest("suffix (fill-in-the-middle) is not supported", param="suffix")
        n = self.n or 1
        if self.best_of not in (None, n):
            raise InvalidRequest(
                "best_of is supported only equal to n (every choice generated is returned)", param="best_of"
            )
        prompt = self.prompt if isinstance(self.prompt, str) else self.prompt[0]
        return engine.GenerationRequest(
            prompt=prompt,
            sampling=self.sampling(),
            max_tokens=self.max_tokens,
            stop=self.stops(),
            ignore_eos=self.ignore_eos,
            stream=self.stream,
            n=n,
            logprobs=self.logprobs is not None,
            top_logprobs=self.logprobs or 0,
            passthrough=self.passthrough(),
        )
