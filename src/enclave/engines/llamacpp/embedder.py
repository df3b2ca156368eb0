"""The embedded llama.cpp embedding engine: validates and tokenizes inputs, hands them to the batcher thread,
and returns one L2-normalised vector per input, in input order, with the tokens each used."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np

from enclave.engines.base import EmbeddingInput, Embeddings, ModelInfo
from enclave.engines.llamacpp.embedding_batcher import EmbeddingBatcher, EmbeddingJob
from enclave.engines.llamacpp.embedding_tokenizer import EmbeddingTokenizer
from enclave.engines.llamacpp.model import LlamaModel
from enclave.errors import ConfigError, ContextLengthExceeded, InvalidRequest

_LLAMA_MAX_SEQUENCES = 256  # LLAMA_MAX_SEQ: sequence ids one llama_context can tell apart
# Tokenizing this much text takes milliseconds: done off the event loop.
_INLINE_TOKENIZE_CHARS = 16_384
_POOLING_NAMES = {
    llama_cpp.LLAMA_POOLING_TYPE_MEAN: "mean",
    llama_cpp.LLAMA_POOLING_TYPE_CLS: "cls",
    llama_cpp.LLAMA_POOLING_TYPE_LAST: "last",
}


@dataclass(frozen=True, slots=True)
class EmbedderSettings:
    """How an embedding model is served; every field has a default that suits a small CPU model."""

    threads: int | None = None  # default: every core
    context: int | None = None  # tokens one input may have; default and ceiling: the model's trained window
    batch_tokens: int = 512  # tokens evaluated together (at least the window)
    sequences: int = 64  # inputs evaluated together, at most 256
    queue_inputs: int = 2048  # inputs that may wait; past that a request is refused with 429
    # Whether the model was trained so that a prefix of its vector is itself an embedding (Matryoshka): only
    # then does ``dimensions`` truncate and renormalise. Nothing in a GGUF says so; the operator does.
    shortenable: bool = False
    gpu_layers: int = 0


class LlamaEmbedder:
    """Serves one embedding GGUF in-process, beside any chat engines (each has its own context and thread)."""

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        source: str,
        aliases: Sequence[str] = (),
        settings: EmbedderSettings = EmbedderSettings(),
    ) -> None:
        self.model = LlamaModel(path, gpu_layers=settings.gpu_layers)
        try:
            trained = self.model.context_train
            self.window = min(settings.context or trained, trained)
            if not 1 <= settings.sequences <= _LLAMA_MAX_SEQUENCES:
                raise ConfigError(f"an embedding model's sequences must be between 1 and {_LLAMA_MAX_SEQUENCES}")
            self.tokenizer = EmbeddingTokenizer(self.model)
            self.batcher = EmbeddingBatcher(
                self.model,
                name=name,
                batch_tokens=max(settings.batch_tokens, self.window),
                sequences=settings.sequences,
                queue_inputs=settings.queue_inputs,
                threads=settings.threads or os.cpu_count() or 1,
            )
        except Exception:
            self.model.close()
            raise
        self.dimensions = self.batcher.dimensions
        self.supports_dimensions = settings.shortenable
        self.pooling = _POOLING_NAMES.get(self.batcher.pooling, str(self.batcher.pooling))
        self.info = ModelInfo(
            name=name,
            aliases=tuple(aliases),
            architecture=self.model.architecture,
            description=self.model.description,
            quantization=self.model.quantization,
            parameters=self.model.parameters,
            size_bytes=self.model.size_bytes,
            context_train=trained,
            context=self.window,
            source=source,
            chat_template=False,
        )

    async def embed(self, inputs: Sequence[EmbeddingInput], *, dimensions: int | None = None) -> Embeddings:
        """One vector per input, in order. Raises ``InvalidRequest`` (400, naming ``input`` or ``dimensions``)
        for an empty input or list, a token id outside the vocabulary, an input longer than the window (with
        both numbers) or unsupported ``dimensions``; ``EngineOverloaded`` (429) when too many inputs wait."""
        self._check_dimensions(dimensions)
        if not inputs:
            raise InvalidRequest("input must not be empty", param="input")
        if sum(len(item) for item in inputs if isinstance(item, str)) > _INLINE_TOKENIZE_CHARS:
            tokens = await asyncio.to_thread(self.tokenize, inputs)
        else:
            tokens = self.tokenize(inputs)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[EmbeddingJob] = loop.create_future()

        def done(job: EmbeddingJob) -> None:  # on the batcher thread
            # RuntimeError: the caller's event loop is gone, and nobody waits for this.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, job)

        job = EmbeddingJob(tokens, np.empty((len(tokens), self.dimensions), np.float32), done)
        self.batcher.submit(job)
        try:
            await future
        except asyncio.CancelledError:
            self.batcher.cancel(job)
            raise
        vectors = job.vectors
        if dimensions is not None and dimensions < self.dimensions:
            vectors = vectors[:, :dimensions]
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return Embeddings(vectors, tuple(len(t) for t in tokens), job.compute_seconds)

    def tokenize(self, inputs: Sequence[EmbeddingInput]) -> list[list[int]]:
        """Each input's token ids, the model's special tokens included; refuses what cannot be embedded."""
        many = len(inputs) > 1
        tokens = []
        for index, item in enumerate(inputs):
            which = f"input {index}" if many else "the input"
            if isinstance(item, str):
                if not item:
                    raise InvalidRequest(f"{which} is an empty string", param="input")
                ids = self.tokenizer.encode(item)
            else:
                if not item:
                    raise InvalidRequest(f"{which} is an empty list of tokens", param="input")
                n_vocab = self.model.n_vocab
                outside = next((t for t in item if not isinstance(t, int) or not 0 <= t < n_vocab), None)
                if outside is not None:
                    raise InvalidRequest(
                        f"{which} has token {outside!r}, not a token id of this model's vocabulary of {n_vocab}",
                        param="input",
                    )
                ids = self.tokenizer.wrap(item)
            if len(ids) > self.window:
                raise ContextLengthExceeded(
                    f"This model's maximum context length is {self.window} tokens, but {which} has {len(ids)} "
                    "tokens. Shorten it or split it.",
                    param="input",
                )
            tokens.append(ids)
        return tokens

    def _check_dimensions(self, dimensions: int | None) -> None:
        if dimensions is None:
            return
        if not self.supports_dimensions:
            raise InvalidRequest(
                f"model {self.info.name} does not support shortened embeddings; leave dimensions out",
                param="dimensions",
            )
        if not 1 <= dimensions <= self.dimensions:
            raise InvalidRequest(f"dimensions must be between 1 and {self.dimensions}", param="dimensions")

    def stats(self) -> dict[str, float]:
        s = self.batcher.stats()
        return {name: float(getattr(s, name)) for name in s.__slots__}

    async def close(self) -> None:
        await asyncio.to_thread(self.batcher.close)
        self.model.close()


def _settle(future: asyncio.Future[EmbeddingJob], job: EmbeddingJob) -> None:
    if future.done():  # cancelled: the caller went away
        return
    if job.error is not None:
        future.set_exception(job.error)
    else:
        future.set_result(job)
