"""Log-probabilities of generated tokens, as OpenAI's ``logprobs.content`` entries.

They describe the model's raw distribution at each step: the log-softmax of the logits llama.cpp computed,
before logit bias, penalties, temperature and top-k/top-p/min-p, and before any constraint mask (vLLM's
default too). They say how likely the model itself found a token, whatever the request asked the sampler to
do: a token picked at a high temperature or forced by a schema may carry a low logprob, and the alternatives
may name tokens the sampler or the grammar could never have chosen.

Only sequences that asked pay: per token one pass over the vocabulary for the log-sum-exp into buffers the
recorder owns, plus an ``argpartition`` (linear, no full sort) when alternatives are wanted.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import llama_cpp
import numpy as np

from enclave.engines.llamacpp.model import LlamaModel

# OpenAI's limit for top_logprobs.
MAX_TOP_LOGPROBS = 20
# What OpenAI writes for a token the model gives no probability at all.
_NO_PROBABILITY = -9999.0

Entry = dict[str, Any]


class TokenPieces:
    """Each token's text and bytes as OpenAI writes them, cached per token (the vocabulary never changes).

    Used on the scheduler thread only.
    """

    def __init__(self, model: LlamaModel) -> None:
        self._model = model
        self._cache: dict[int, tuple[str, tuple[int, ...]]] = {}

    def get(self, token: int) -> tuple[str, tuple[int, ...]]:
        found = self._cache.get(token)
        if found is None:
            # A special token adds nothing to the text; its own name tells a reader of the alternatives more.
            data = self._model.piece(token) or self._model.token_text(token).encode()
            # OpenAI writes a token that holds only part of a UTF-8 character as escaped bytes ("\\xe2\\x80").
            found = (data.decode("utf-8", errors="backslashreplace"), tuple(data))
            self._cache[token] = found
        return found


class LogprobRecorder:
    """One sequence's logprobs: ``observe`` the raw logits before sampling, ``record`` the token chosen."""

    def __init__(self, pieces: TokenPieces, n_vocab: int, top: int) -> None:
        self._pieces = pieces
        self._top = top
        self._row = ctypes.c_float * n_vocab
        self._logprobs = np.empty(n_vocab, dtype=np.float32)
        self._scratch = np.empty(n_vocab, dtype=np.float32)
        self._alternatives: list[Entry] = []
        self._entries: list[Entry] = []
        self._taken = 0

    def observe(self, ctx: llama_cpp.llama_context_p, output_index: int) -> None:
        """Read the distribution of output row ``output_index``; call before anything changes those logits."""
        pointer = llama_cpp.llama_get_logits_ith(ctx, output_index)
        row = self._row.from_address(ctypes.addressof(pointer.contents))
        logits = np.frombuffer(memoryview(row), dtype=np.float32)  # a view: llama.cpp's buffer, not a copy
        np.subtract(logits, logits.max(), out=self._logprobs)
        np.exp(self._logprobs, out=self._scratch)
        self._logprobs -= np.log(self._scratch.sum(dtype=np.float64))
        self._alternatives = []
        if self._top:
            best = np.argpartition(self._logprobs, -self._top)[-self._top :]
            best = best[np.argsort(-self._logprobs[best], kind="stable")]
            self._alternatives = [self._entry(int(token)) for token in best]

    def record(self, token: int) -> None:
        """Keep the entry of ``token``, the one sampled from the row last observed."""
        entry = self._entry(token)
        entry["top_logprobs"] = self._alternatives
        self._entries.append(entry)

    def take(self, limit: int | None = None) -> tuple[Entry, ...]:
        """The entries recorded since the last call; with ``limit``, none past the sequence's first ``limit``
        (the end-of-generation token is sampled, but is not part of the answer)."""
        end = len(self._entries) if limit is None else max(self._taken, min(limit, len(self._entries)))
        taken = tuple(self._entries[self._taken : end])
        self._taken = end
        return taken

    def _entry(self, token: int) -> Entry:
        text, data = self._pieces.get(token)
        logprob = float(self._logprobs[token])
        return {
            "token": text,
            "logprob": logprob if math.isfinite(logprob) else _NO_PROBABILITY,
            "bytes": list(data),
        }
