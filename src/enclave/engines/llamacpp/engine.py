"""The embedded llama.cpp engine: the ``Engine`` interface over a loaded model and its batch scheduler."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path

from enclave.config import ModelConfig
from enclave.engines.base import Delta, GenerationRequest, ModelInfo, Usage
from enclave.engines.chat_template import CHATML, ChatTemplate
from enclave.engines.llamacpp.constraint import GrammarCompiler, TokenConstraint
from enclave.engines.llamacpp.logprobs import MAX_TOP_LOGPROBS, LogprobRecorder, TokenPieces
from enclave.engines.llamacpp.model import LlamaModel
from enclave.engines.llamacpp.prompt_size import refuse_if_longer_than
from enclave.engines.llamacpp.sampling import SamplerChain
from enclave.engines.llamacpp.scheduler import BatchScheduler
from enclave.engines.llamacpp.sequence import Sequence
from enclave.engines.llamacpp.structures import Structure, Structures, structure_key
from enclave.engines.structured.answer import ShapedAnswer
from enclave.engines.structured.plan import AnswerPlan, plan_answer
from enclave.errors import ContextLengthExceeded, EnclaveError, InvalidRequest

_DEFAULT_CONTEXT = 4096


class EmbeddedGeneration:
    """Deltas of a request's choices (one sequence each) from the scheduler thread, handed over to the event
    loop through an asyncio queue.

    The choices' deltas interleave, each marked with its ``choice``; each choice's last delta keeps its finish
    reason, and the last of those carries the usage of all of them: the prompt counted once, completion tokens
    and compute time summed. An error in any choice fails the whole generation.
    """

    def __init__(self, scheduler: BatchScheduler, prompt_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens
        self._scheduler = scheduler
        self._queue: asyncio.Queue[Delta | EnclaveError] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self.sequences: list[Sequence] = []

    def deliver(self, item: Delta | EnclaveError) -> None:
        """Called on the scheduler thread."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:
            # The consumer's event loop is gone: nobody will read this, so stop generating it.
            self.cancel()

    async def __aiter__(self) -> AsyncIterator[Delta]:
        usages: dict[int, Usage] = {}
        try:
            while len(usages) < len(self.sequences):
                item = await self._queue.get()
                if isinstance(item, EnclaveError):
                    raise item
                if item.finish_reason is not None:
                    assert item.usage is not None
                    usages[item.choice] = item.usage
                    total = self._total(usages) if len(usages) == len(self.sequences) else None
                    item = dataclasses.replace(item, usage=total)
                yield item
        finally:
            # Normal end, error or the consumer went away: in every case the slots must be freed.
            self.cancel()

    def _total(self, usages: dict[int, Usage]) -> Usage:
        # The choices share one evaluated prompt: it is billed once, and what of it came from the cache is
        # what the first choice (the one that evaluated it) found there.
        seconds = [u.compute_seconds for u in usages.values() if u.compute_seconds is not None]
        return Usage(
            self.prompt_tokens,
            sum(u.completion_tokens for u in usages.values()),
            usages[0].cached_tokens,
            sum(seconds) if seconds else None,
        )

    def cancel(self) -> None:
        for sequence in self.sequences:
            if not sequence.finished:
                self._scheduler.cancel(sequence)


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
            self.pieces = TokenPieces(self.model)
            self.grammars = GrammarCompiler(self.model)
            self.structures = Structures()
        except Exception:
            self.model.close()
            raise
        self.info = describe(config, self.model, source, context)

    def prompt_tokens(self, request: GenerationRequest, plan: AnswerPlan | None = None) -> list[int]:
        if request.messages is not None:
            tools = request.tools if plan is not None and plan.tools_in_prompt else ()
            return self.model.tokenize(self.template.render(request.messages, tools))
        assert request.prompt is not None
        return self.model.tokenize(request.prompt)

    def _structure(self, request: GenerationRequest, key: str) -> Structure | None:
        """The answer's plan and compiled grammar, or None for free text; raises ``InvalidRequest`` for what
        cannot be enforced. Runs off the event loop: a large schema takes milliseconds to check and compile."""
        plan = plan_answer(request, self.grammars.special)
        if plan is None:
            return None
        structure = plan, self.grammars.compile(plan.grammar, plan.param)
        self.structures.put(key, structure)
        return structure

    async def _structured(self, request: GenerationRequest) -> Structure | None:
        """``_structure``'s answer: from the recent ones when this schema and these tools were seen before."""
        key = structure_key(request)
        return self.structures.get(key) or await asyncio.to_thread(self._structure, request, key)

    async def submit(self, request: GenerationRequest) -> EmbeddedGeneration:
        refuse_if_longer_than(request, self.scheduler.context, self.model.widest_piece)  # before tokenizing it
        structure = None
        if request.tools or request.tool_choice not in ("auto", "none") or request.response_format.type != "text":
            structure = await self._structured(request)
        prompt = self.prompt_tokens(request, structure[0] if structure else None)
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
                raise InvalidRequest(
                    f"logit_bias names token {token}, outside this model's vocabulary", param="logit_bias"
                )
        self._check_choices(request)
        generation = EmbeddedGeneration(self.scheduler, len(prompt))
        for choice in range(request.n):
            generation.sequences.append(self._sequence(request, prompt, choice, generation, structure))
        try:
            self.scheduler.submit(*generation.sequences)
        except EnclaveError:
            for sequence in generation.sequences:
                sequence.close()
            raise
        return generation

    def _check_choices(self, request: GenerationRequest) -> None:
        capacity = self.config.parallel + self.config.queue
        if not 1 <= request.n <= capacity:
            raise InvalidRequest(
                f"n must be between 1 and {capacity} (this model's parallel sequences plus its queue)", param="n"
            )
        if not 0 <= request.top_logprobs <= MAX_TOP_LOGPROBS:
            raise InvalidRequest(f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}", param="top_logprobs")

    def _sequence(
        self,
        request: GenerationRequest,
        prompt: list[int],
        choice: int,
        generation: EmbeddedGeneration,
        structure: Structure | None = None,
    ) -> Sequence:
        """Choice ``choice`` of ``request``; a seeded request gives choice i the seed + i, so that the choices
        differ and the request as a whole is repeatable."""
        sampling = request.sampling
        if sampling.seed is not None and choice:
            sampling = dataclasses.replace(sampling, seed=sampling.seed + choice)
        recorder = None
        if request.logprobs:
            recorder = LogprobRecorder(self.pieces, self.model.n_vocab, request.top_logprobs)
        max_tokens = request.max_tokens
        constraint = answer = None
        if structure is not None:
            plan, grammar = structure
            constraint, answer = TokenConstraint(grammar.deep_copy(), self.model.n_vocab), ShapedAnswer(plan)
        return Sequence(
            prompt,
            SamplerChain(sampling, self.config.sampling, self.model.n_vocab),
            max_tokens=max_tokens if max_tokens is not None else self.scheduler.context - len(prompt),
            stop=request.stop,
            ignore_eos=request.ignore_eos,
            sink=generation.deliver,
            stream=request.stream,
            choice=choice,
            logprobs=recorder,
            leader=generation.sequences[0] if choice else None,
            constraint=constraint,
            answer=answer,
        )

    def stats(self) -> dict[str, float]:
        s = self.scheduler.stats()
        return {name: float(getattr(s, name)) for name in s.__slots__}

    async def close(self) -> None:
        await asyncio.to_thread(self.scheduler.close)
        self.model.close()
