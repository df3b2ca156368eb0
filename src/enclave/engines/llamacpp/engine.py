"""The embedded llama.cpp engine: the ``Engine`` interface over a loaded model and its batch scheduler."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from enclave.config import ModelConfig
from enclave.engines.base import Delta, GenerationRequest, ModelInfo
from enclave.engines.chat_template import CHATML, ChatTemplate
from enclave.engines.llamacpp.model import LlamaModel
from enclave.engines.llamacpp.sampling import SamplerChain
from enclave.engines.llamacpp.scheduler import BatchScheduler
from enclave.engines.llamacpp.sequence import Sequence
from enclave.errors import ContextLengthExceeded, EnclaveError, InvalidRequest

_DEFAULT_CONTEXT = 4096


class EmbeddedGeneration:
    """Deltas from the scheduler thread, handed over to the event loop through an asyncio queue."""

    def __init__(self, scheduler: BatchScheduler, prompt_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens
        self._scheduler = scheduler
        self._queue: asyncio.Queue[Delta | EnclaveError] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self.sequence: Sequence | None = None

    def deliver(self, item: Delta | EnclaveError) -> None:
        """Called on the scheduler thread."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:
            # The consumer's event loop is gone: nobody will read this, so stop generating it.
            self.cancel()

    async def __aiter__(self) -> AsyncIterator[Delta]:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, EnclaveError):
                    raise item
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            # Normal end, error or the consumer went away: in every case the slot must be freed.
            self.cancel()

    def cancel(self) -> None:
        if self.sequence is not None and not self.sequence.finished:
            self._scheduler.cancel(self.sequence)


def describe(config: ModelConfig, model: LlamaModel, source: str, context: int | None = None) -> ModelInfo:
    return ModelInfo(
        name=config.name,
        aliases=tuple(config.aliases),
        architecture=model.architecture,
        description=model.description,
        quantization=model.quantization,
        parameters=model.parameters,
        size_bytes=model.size_bytes,
        context_train=model.context_train,
        context=context or serving_context(config, model),
        source=source,
        chat_template=model.chat_template is not None,
    )


def serving_context(config: ModelConfig, model: LlamaModel) -> int:
    """Tokens per sequence: as configured, else the trained context capped at 4096 (KV memory grows with it)."""
    return config.context or min(_DEFAULT_CONTEXT, model.context_train or _DEFAULT_CONTEXT)


class EmbeddedEngine:
    """Serves one GGUF model in-process."""

    def __init__(self, config: ModelConfig, path: Path, source: str) -> None:
        self.config = config
        self.model = LlamaModel(path, gpu_layers=config.gpu_layers)
        try:
            context = serving_context(config, self.model)
            threads = config.threads or os.cpu_count() or 1
            template = config.chat_template or self.model.chat_template or CHATML
            self.template = ChatTemplate(
                template,
                bos_token=self.model.token_text(self.model.bos),
                eos_token=self.model.token_text(self.model.eos),
            )
            self.scheduler = BatchScheduler(self.model, config, context, threads)
        except Exception:
            self.model.close()
            raise
        self.info = describe(config, self.model, source, context)

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        if request.messages is not None:
            return self.model.tokenize(self.template.render(request.messages))
        assert request.prompt is not None
        return self.model.tokenize(request.prompt)

    async def submit(self, request: GenerationRequest) -> EmbeddedGeneration:
        prompt = self.prompt_tokens(request)
        context = self.scheduler.context
        if not prompt:
            raise InvalidRequest("the prompt is empty", param="prompt")
        if len(prompt) >= context:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {context} tokens, but the prompt has {len(prompt)} "
                "tokens. Shorten the prompt.",
                param="messages" if request.messages is not None else "prompt",
            )
        max_tokens = request.max_tokens
        if max_tokens is not None and len(prompt) + max_tokens > context:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {context} tokens. However, you requested "
                f"{len(prompt) + max_tokens} tokens ({len(prompt)} in the prompt, {max_tokens} for the "
                "completion). Reduce the prompt or max_tokens.",
                param="max_tokens",
            )
        for token in request.sampling.logit_bias:
            if not 0 <= token < self.model.n_vocab:
                raise InvalidRequest(f"logit_bias names token {token}, outside this model's vocabulary",
                                     param="logit_bias")
        generation = EmbeddedGeneration(self.scheduler, len(prompt))
        sampler = SamplerChain(request.sampling, self.config.sampling, self.model.n_vocab)
        sequence = Sequence(
            prompt,
            sampler,
            max_tokens=max_tokens if max_tokens is not None else context - len(prompt),
            stop=request.stop,
            ignore_eos=request.ignore_eos,
            sink=generation.deliver,
            stream=request.stream,
        )
        generation.sequence = sequence
        try:
            self.scheduler.submit(sequence)
        except EnclaveError:
            sampler.close()
            raise
        return generation

    def stats(self) -> dict[str, float]:
        s = self.scheduler.stats()
        return {name: float(getattr(s, name)) for name in s.__slots__}

    async def close(self) -> None:
        await asyncio.to_thread(self.scheduler.close)
        self.model.close()
