"""Constrained sampling: llguidance token masks applied to one sequence's logits before llama.cpp samples.

Per model, ``GrammarCompiler`` holds the llguidance tokenizer (built from the llama.cpp vocabulary on the
first constrained request, ~0.2 s for SmolLM2's 49k tokens) and the grammars compiled lately. Per sequence,
a ``TokenConstraint`` holds an ``LLMatcher``. Each decode step the scheduler has ``MaskBatch`` compute the
masks of all constrained sequences due a token, before llama.cpp evaluates the step; each sequence then sets
the logits its grammar forbids to -inf in place, where ``llama_sampler_sample`` reads them, so every sampler in
its chain (penalties, top-k, temperature, ...) works on allowed tokens only. End of generation is in the mask
only where the grammar accepts.
"""

from __future__ import annotations

import collections
import ctypes
import threading

import llama_cpp
import numpy as np
from llguidance import LLMatcher, LLTokenizer
from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

from enclave.engines import tool_format
from enclave.engines.llamacpp.model import LlamaModel
from enclave.engines.structured.grammar import PARSER_LIMITS
from enclave.errors import EngineFailed, InvalidRequest

_CACHED_GRAMMARS = 64
_NEG_INF = np.float32(-np.inf)


class GrammarCompiler:
    """Compiles grammars against one model's vocabulary; safe to call from any thread."""

    def __init__(self, model: LlamaModel) -> None:
        self._model = model
        self._lock = threading.Lock()
        self._tokenizer: LLTokenizer | None = None
        self._compiled: collections.OrderedDict[str, LLMatcher] = collections.OrderedDict()
        self.special = frozenset(m for m in (tool_format.OPEN, tool_format.CLOSE) if _is_special_token(model, m))

    def _vocabulary(self) -> LLTokenizer:
        if self._tokenizer is None:
            self._tokenizer = _tokenizer(self._model)
        return self._tokenizer

    def compile(self, grammar: str, param: str) -> LLMatcher:
        """The matcher at the start of ``grammar``, shared: give each sequence a ``deep_copy``, never advance it.

        ``InvalidRequest`` naming ``param`` if the grammar cannot be built. Slow for a new grammar (up to ~1 s
        for a huge schema, ~0.2 s more the first time, for the tokenizer): call it off the event loop.
        """
        with self._lock:
            prototype = self._compiled.get(grammar)
            if prototype is not None:
                self._compiled.move_to_end(grammar)
                return prototype
            tokenizer = self._vocabulary()
        prototype = LLMatcher(tokenizer, grammar, log_level=0, limits=PARSER_LIMITS)
        if prototype.is_error():
            raise InvalidRequest(f"the answer's grammar cannot be built: {prototype.get_error()}", param=param)
        # Some grammars fail only once asked for a token (a recursion that never writes one): ask here, so that
        # they are a 400 now rather than a failed answer after the 200.
        probe = prototype.deep_copy()
        fill_next_token_bitmask(probe, allocate_token_bitmask(1, self._model.n_vocab), 0)
        if probe.is_error():
            raise InvalidRequest(f"no answer can satisfy the grammar: {probe.get_error()}", param=param)
        with self._lock:
            self._compiled[grammar] = prototype
            while len(self._compiled) > _CACHED_GRAMMARS:
                self._compiled.popitem(last=False)
        return prototype


def _tokenizer(model: LlamaModel) -> LLTokenizer:
    """llguidance's view of the vocabulary: each token's bytes, special ones marked with a leading 0xff.

    What ``llguidance.llamacpp.lltokenizer_from_vocab`` does, through llama.cpp's current attribute call (the
    deprecated one it uses warns once per token); every end-of-generation token counts as end of sequence.
    """
    pieces: list[bytes] = []
    eog: list[int] = []
    for token in range(model.n_vocab):
        piece = _token_bytes(model, token)
        if _is_special(model, token, piece):
            piece = b"\xff" + piece
        pieces.append(piece)
        if model.is_end_of_generation(token):
            eog.append(token)
    tokenize = ctypes.cast(llama_cpp.llama_cpp._lib.llama_tokenize, ctypes.c_void_p).value
    return LLTokenizer.from_llamacpp(  # type: ignore[attr-defined]
        tokens=pieces, vocab_ptr=model.vocab, tokenize_fptr=tokenize, eos_token=eog, slices=None
    )


def _token_bytes(model: LlamaModel, token: int) -> bytes:
    """The token's bytes, special tokens written out (``<|im_end|>``)."""
    size = 64
    while True:
        buffer = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(model.vocab, token, buffer, size, 0, True)
        if n >= 0:
            return buffer.raw[:n]
        size = -n


def _is_special(model: LlamaModel, token: int, piece: bytes) -> bool:
    attributes = llama_cpp.llama_vocab_get_attr(model.vocab, token)
    if attributes & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL:
        return True
    # Added tokens that look like markup (<tool_call>) are matched as tokens in grammars, as llguidance does.
    user_defined = attributes & llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    return bool(user_defined and piece.startswith(b"<") and piece.endswith(b">"))


def _is_special_token(model: LlamaModel, text: str) -> bool:
    tokens = model.tokenize(text, add_bos=False)
    return len(tokens) == 1 and _is_special(model, tokens[0], _token_bytes(model, tokens[0]))


class TokenConstraint:
    """One sequence's grammar state. Used on the scheduler thread only."""

    def __init__(self, matcher: LLMatcher, n_vocab: int) -> None:
        self.matcher = matcher
        self._n_vocab = n_vocab
        self._logits_type = ctypes.c_float * n_vocab
        self.mask: np.ndarray | None = None  # this step's bitmask row, set by MaskBatch.fill

    @property
    def complete(self) -> bool:
        """The grammar is satisfied and allows nothing more: the answer is over."""
        return self.matcher.is_stopped()

    def apply(self, ctx: llama_cpp.llama_context_p, output_index: int) -> None:
        """Set the logits of every token the grammar forbids now to -inf."""
        assert self.mask is not None, "the mask is computed before sampling"
        if self.matcher.is_error():  # e.g. a step past the parser's limits while computing this mask
            raise EngineFailed(f"constrained decoding failed: {self.matcher.get_error()}")
        pointer = llama_cpp.llama_get_logits_ith(ctx, output_index)
        logits = np.frombuffer(
            memoryview(self._logits_type.from_address(ctypes.addressof(pointer.contents))), np.float32
        )
        allowed = np.unpackbits(self.mask.view(np.uint8), bitorder="little", count=self._n_vocab).view(bool)
        np.copyto(logits, _NEG_INF, where=~allowed)
        self.mask = None

    def accept(self, token: int) -> None:
        if not self.matcher.consume_token(token):
            raise EngineFailed(f"constrained decoding failed: {self.matcher.get_error() or 'token refused'}")


class MaskBatch:
    """The masks of one decode step, computed on the scheduler thread before llama.cpp evaluates the batch (a
    mask depends only on the tokens accepted so far, not on the logits being computed). ``rows`` is the most
    sequences a step samples.

    Not on a thread of its own: a mask takes ~0.1 ms here (~1 ms a step at 8 sequences, 0.6% of the scheduler
    thread's time in a profile, against a decode step of 70-150 ms on 2 cores), so overlapping it with the decode
    hid next to nothing, and side by side the two ways measured within noise of each other. Nor with
    llguidance's parallel executor, whose worker threads competed with llama.cpp's for the cores.
    """

    def __init__(self, rows: int, n_vocab: int) -> None:
        self._bitmask = allocate_token_bitmask(rows, n_vocab)

    def fill(self, constraints: list[TokenConstraint]) -> None:
        """Compute the masks of ``constraints``, each kept on its constraint until ``apply``."""
        for i, constraint in enumerate(constraints):
            fill_next_token_bitmask(constraint.matcher, self._bitmask, i)
            constraint.mask = self._bitmask[i]
