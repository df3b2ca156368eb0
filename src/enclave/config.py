"""The one configuration object, read from ``enclave.yaml`` (optional) and validated once at start-up.

Every field has a default so that no file is needed to start: with none, enclave serves the embedded default
model. Unknown keys are errors, not silently ignored, so a typo cannot leave a setting unapplied.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from enclave.errors import ConfigError

DEFAULT_MODEL_NAME = "smollm2-135m"
CONFIG_ENV = "ENCLAVE_CONFIG"
CONFIG_FILE = "enclave.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplingDefaults(_Strict):
    """Sampling used when a request does not say otherwise (llama.cpp's own defaults)."""

    temperature: Annotated[float, Field(ge=0, le=2)] = 0.8
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.95
    top_k: Annotated[int, Field(ge=0)] = 40
    min_p: Annotated[float, Field(ge=0, le=1)] = 0.05
    repeat_penalty: Annotated[float, Field(gt=0)] = 1.0
    penalty_last_n: Annotated[int, Field(ge=-1)] = 64


class ModelConfig(_Strict):
    """One model served by the embedded llama.cpp engine."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9._:/-]+$")]
    path: Path | None = None
    repo: str | None = None
    file: str | None = None
    revision: str | None = None
    aliases: list[str] = []
    # Tokens per sequence (prompt + completion); unset: the model's trained context, at most 4096.
    context: Annotated[int | None, Field(ge=64)] = None
    threads: Annotated[int | None, Field(ge=1)] = None
    batch: Annotated[int, Field(ge=16, description="most tokens in one llama_decode call")] = 512
    parallel: Annotated[int, Field(ge=1, le=256, description="sequences decoded together")] = 8
    queue: Annotated[int, Field(ge=0, description="requests that may wait for a free sequence")] = 64
    prefill_chunk: Annotated[int, Field(ge=16, description="prompt tokens per sequence per step")] = 256
    gpu_layers: Annotated[int, Field(ge=0)] = 0
    chat_template: str | None = None
    sampling: SamplingDefaults = SamplingDefaults()

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if self.path is not None and (self.repo or self.file):
            raise ValueError("give either 'path' or 'repo' + 'file', not both")
        if (self.repo is None) != (self.file is None):
            raise ValueError("'repo' and 'file' go together")
        if self.path is None and self.repo is None and self.name != DEFAULT_MODEL_NAME:
            raise ValueError("a model needs 'path' or 'repo' + 'file'")
        return self

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    # Until API keys exist, the only safe exposure is loopback: listening wider must be asked for by name.
    allow_unauthenticated_remote: bool = False


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "enclave"


class Settings(_Strict):
    server: ServerConfig = ServerConfig()
    models: list[ModelConfig] = Field(default_factory=lambda: [ModelConfig(name=DEFAULT_MODEL_NAME)])
    data_dir: Path = Field(default_factory=_default_data_dir)

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        if not self.models:
            raise ValueError("at least one model is needed")
        seen: set[str] = set()
        for model in self.models:
            for name in model.names:
                if name in seen:
                    raise ValueError(f"model name or alias {name!r} is used twice")
                seen.add(name)
        return self


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_validation_error(source: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = _location(item["loc"])
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{source}: {where}: {message}")
    return "\n".join(lines)


def find_config_file(explicit: Path | None) -> Path | None:
    """The file to read: the one named, else $ENCLAVE_CONFIG, else ./enclave.yaml if present, else none."""
    if explicit is not None:
        return explicit
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    local = Path(CONFIG_FILE)
    return local if local.is_file() else None


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the configuration; raise ConfigError naming the bad key on any problem."""
    source = find_config_file(path)
    if source is None:
        return Settings()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of settings")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(str(source), exc)) from exc
    return _resolve_relative_paths(settings, source.resolve().parent)


def _resolve_relative_paths(settings: Settings, base: Path) -> Settings:
    """Model paths in the file are relative to the file, not to wherever the server was started."""
    models = [
        m.model_copy(update={"path": base / m.path}) if m.path is not None and not m.path.is_absolute() else m
        for m in settings.models
    ]
    return settings.model_copy(update={"models": models})
