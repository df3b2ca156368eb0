"""One llama.cpp sampler chain per sequence, built from the request's sampling and the model's defaults."""

from __future__ import annotations

import random

import llama_cpp

from enclave.config import SamplingDefaults
from enclave.engines.base import SamplingParams


class SamplerChain:
    """Owns a ``llama_sampler`` chain; ``sample`` picks and accepts the next token of one sequence."""

    def __init__(self, params: SamplingParams, defaults: SamplingDefaults, n_vocab: int) -> None:
        self._ptr = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        # Order follows llama.cpp's own: bias and penalties reshape logits, then truncate, then pick.
        if params.logit_bias:
            biases = (llama_cpp.llama_logit_bias * len(params.logit_bias))()
            for i, (token, bias) in enumerate(params.logit_bias.items()):
                biases[i].token = llama_cpp.llama_token(token)
                biases[i].bias = bias
            self._add(llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(params.logit_bias), biases))
        repeat = params.repeat_penalty if params.repeat_penalty is not None else defaults.repeat_penalty
        if repeat != 1.0 or params.presence_penalty or params.frequency_penalty:
            self._add(
                llama_cpp.llama_sampler_init_penalties(
                    n_vocab, defaults.penalty_last_n, repeat, params.frequency_penalty, params.presence_penalty
                )
            )
        temperature = params.temperature if params.temperature is not None else defaults.temperature
        if temperature <= 0:
            self._add(llama_cpp.llama_sampler_init_greedy())
            return
        top_k = params.top_k if params.top_k is not None else defaults.top_k
        top_p = params.top_p if params.top_p is not None else defaults.top_p
        min_p = params.min_p if params.min_p is not None else defaults.min_p
        if top_k > 0:
            self._add(llama_cpp.llama_sampler_init_top_k(top_k))
        if top_p < 1.0:
            self._add(llama_cpp.llama_sampler_init_top_p(top_p, 1))
        if min_p > 0.0:
            self._add(llama_cpp.llama_sampler_init_min_p(min_p, 1))
        self._add(llama_cpp.llama_sampler_init_temp(temperature))
        seed = params.seed if params.seed is not None else random.getrandbits(32)
        self._add(llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))

    def _add(self, sampler: llama_cpp.llama_sampler_p) -> None:
        llama_cpp.llama_sampler_chain_add(self._ptr, sampler)

    def sample(self, ctx: llama_cpp.llama_context_p, output_index: int) -> int:
        return int(llama_cpp.llama_sampler_sample(self._ptr, ctx, output_index))

    def close(self) -> None:
        if self._ptr:
            llama_cpp.llama_sampler_free(self._ptr)
            self._ptr = None
