"""A loaded GGUF model: weights, vocabulary, metadata, tokenizer. Read-only after loading, so thread-safe."""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from pathlib import Path

import llama_cpp

from enclave.errors import ModelUnavailable

# llama.cpp's file types (enum llama_ftype), for reporting the quantization of a GGUF file.
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4",
}  # fmt: skip

_backend_lock = threading.Lock()
_backend_ready = False
_native_log = logging.getLogger("enclave.llama_cpp")
# What llama.cpp may strip beside a special token (its lstrip/rstrip attributes): not counted as covered text.
_WHITESPACE = b" \t\n\r\v\f"
# ggml log levels: 1 debug, 2 info, 3 warn, 4 error, 5 continuation. Info is loading chatter: keep it at debug.
_LEVELS = {1: logging.DEBUG, 2: logging.DEBUG, 3: logging.WARNING, 4: logging.ERROR, 5: logging.DEBUG}


@llama_cpp.llama_log_callback
def _forward_native_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    # llama.cpp otherwise writes its model-loading chatter straight to stderr.
    if not text:
        return
    message = text.decode("utf-8", "replace").rstrip()
    # With a unified KV cache llama.cpp sizes each sequence as the whole cache and warns that it exceeds the
    # trained context; enclave enforces its own per-sequence limit, so the warning misleads operators.
    severity = logging.DEBUG if "n_ctx_seq" in message else _LEVELS.get(level, logging.DEBUG)
    _native_log.log(severity, "%s", message)


def _init_backend() -> None:
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            llama_cpp.llama_log_set(_forward_native_log, ctypes.c_void_p(0))
            llama_cpp.llama_backend_init()
            _backend_ready = True


class LlamaModel:
    """Owns a ``llama_model``; freed with ``close``."""

    def __init__(self, path: Path, *, gpu_layers: int = 0) -> None:
        if not path.is_file():
            raise ModelUnavailable(f"model file not found: {path}")
        _init_backend()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = gpu_layers
        self._ptr = llama_cpp.llama_model_load_from_file(os.fsencode(path), params)
        if not self._ptr:
            raise ModelUnavailable(f"llama.cpp could not load {path} (not a valid GGUF model?)")
        self.path = path
        self.vocab = llama_cpp.llama_model_get_vocab(self._ptr)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.bos = llama_cpp.llama_vocab_bos(self.vocab)
        self.eos = llama_cpp.llama_vocab_eos(self.vocab)
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))
        self.widest_piece = self._widest_piece()

    @property
    def ptr(self) -> llama_cpp.llama_model_p:
        return self._ptr

    def close(self) -> None:
        if self._ptr:
            llama_cpp.llama_model_free(self._ptr)
            self._ptr = None

    # --- metadata -----------------------------------------------------------------------------------------

    def metadata(self, key: str) -> str | None:
        size = 256
        while True:
            buf = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_model_meta_val_str(self._ptr, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8", errors="replace")
            size = n + 1

    @property
    def architecture(self) -> str:
        return self.metadata("general.architecture") or "unknown"

    @property
    def quantization(self) -> str:
        file_type = self.metadata("general.file_type")
        if file_type is None or not file_type.isdigit():
            return "unknown"
        return _FILE_TYPES.get(int(file_type), f"type {file_type}")

    @property
    def description(self) -> str:
        buf = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(self._ptr, buf, 256)
        return buf.value.decode("utf-8", errors="replace")

    @property
    def parameters(self) -> int:
        return int(llama_cpp.llama_model_n_params(self._ptr))

    @property
    def size_bytes(self) -> int:
        return int(llama_cpp.llama_model_size(self._ptr))

    @property
    def context_train(self) -> int:
        return int(llama_cpp.llama_model_n_ctx_train(self._ptr))

    @property
    def chat_template(self) -> str | None:
        return self.metadata("tokenizer.chat_template")

    # --- text <-> tokens ------------------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, capacity, add_bos and self.add_bos, True)
        if n < 0:
            capacity = -n
            buf = (llama_cpp.llama_token * capacity)()
            n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, capacity, add_bos and self.add_bos, True)
        tokens = list(buf[:n])
        # A chat template that writes the BOS token itself, plus the tokenizer's own, would double it.
        if len(tokens) > 1 and tokens[0] == tokens[1] == self.bos:
            tokens.pop(0)
        return tokens

    def _widest_piece(self) -> int:
        """The most non-whitespace bytes one token stands for, special tokens included (the tokenizer parses
        them in prompts): what bounds a prompt's token count from below by its length alone."""
        buf = ctypes.create_string_buffer(256)
        widest = 1
        for token in range(self.n_vocab):
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 256, 0, True)
            if n < 0:
                buf = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, -n, 0, True)
            widest = max(widest, len(buf.raw[:n].translate(None, _WHITESPACE)))
        return widest

    def piece(self, token: int) -> bytes:
        """The bytes of one token, as generated text (special tokens render as nothing)."""
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 64, 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, -n, 0, False)
        return buf.raw[:n]

    def token_text(self, token: int) -> str:
        """The token's text including special tokens (for the template's bos/eos variables)."""
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 64, 0, True)
        return buf.raw[: max(n, 0)].decode("utf-8", errors="replace")

    def is_end_of_generation(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))
