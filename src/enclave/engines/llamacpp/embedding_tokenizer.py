"""Text to token ids for an embedding model: the model's own Hugging Face tokenizer where its GGUF carries one
(``tokenizer.huggingface.json``, which enclave's converter writes), else llama.cpp's.

llama.cpp's WordPiece tokenizer approximates BERT's normalisation: it keeps only the first code point of a
character's decomposition and drops every combining mark, so Hangul syllables lose their vowels and Indic vowel
signs vanish. Measured on all-MiniLM-L6-v2 against sentence-transformers: Korean 0.22 and Hindi 0.018 cosine
distance with llama.cpp's tokens, under 1e-5 with the tokenizers library's (the one sentence-transformers runs).
"""

from __future__ import annotations

from collections.abc import Sequence

import llama_cpp
from tokenizers import Tokenizer

from enclave.engines.llamacpp.model import LlamaModel

HF_TOKENIZER_KEY = "tokenizer.huggingface.json"


class EmbeddingTokenizer:
    """Thread-safe. ``encode`` adds the model's special tokens (BERT's [CLS] ... [SEP]); ``wrap`` adds the same
    around token ids a caller gave, so text and its token ids embed alike."""

    def __init__(self, model: LlamaModel) -> None:
        self._model = model
        self._hf: Tokenizer | None = None
        spec = model.metadata(HF_TOKENIZER_KEY)
        if spec:
            self._hf = Tokenizer.from_str(spec)
            # A sentence-transformers tokenizer.json may pad and truncate (to 128 for MiniLM): enclave refuses
            # what is too long instead of cutting it, and never pads (each input is its own sequence).
            self._hf.no_truncation()
            self._hf.no_padding()
        self.source = "huggingface" if self._hf is not None else "llama.cpp"
        specials = self.encode("")
        # What goes before the text: the BOS (BERT's CLS) when the tokenizer adds it; the rest goes after.
        split = 1 if specials and specials[0] == model.bos else 0
        self._prefix, self._suffix = specials[:split], specials[split:]

    def encode(self, text: str) -> list[int]:
        if self._hf is not None:
            ids: list[int] = self._hf.encode(text).ids
            return ids
        return self._llama_tokenize(text)

    def wrap(self, ids: Sequence[int]) -> list[int]:
        return [*self._prefix, *ids, *self._suffix]

    def _llama_tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (llama_cpp.llama_token * capacity)()
        # add_special: the tokenizer adds what the model's vocabulary says (CLS and SEP for BERT).
        n = llama_cpp.llama_tokenize(self._model.vocab, data, len(data), buf, capacity, True, True)
        if n < 0:
            capacity = -n
            buf = (llama_cpp.llama_token * capacity)()
            n = llama_cpp.llama_tokenize(self._model.vocab, data, len(data), buf, capacity, True, True)
        return list(buf[:n])
