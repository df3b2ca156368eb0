"""A WordPiece vocabulary (BERT's tokenizer) read from ``tokenizer.json`` alone, without transformers, in the
form llama.cpp's WPM tokenizer reads: what convert_hf_to_gguf.py writes for BertModel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

from enclave.errors import ModelUnavailable

_PHANTOM_SPACE = "\u2581"
_CONTINUATION = "##"


@dataclass(frozen=True, slots=True)
class WordPieceVocab:
    """Token texts and types by id; the normalizer's flags where ``tokenizer.json`` states them; the file."""

    tokens: list[str]
    types: list[int]  # gguf.TokenType values
    lowercase: bool | None
    strip_accents: bool | None
    huggingface_json: str


def read_wordpiece(checkpoint: Path, vocab_size: int) -> WordPieceVocab:
    path = checkpoint / "tokenizer.json"
    try:
        text = path.read_text(encoding="utf-8")
        tokenizer = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"cannot read the tokenizer {path}: {exc}") from exc
    model = tokenizer.get("model") or {}
    if model.get("type") != "WordPiece":
        raise ModelUnavailable(f"{path} is a {model.get('type')} tokenizer, not WordPiece")
    by_id: dict[int, str] = {token_id: token for token, token_id in model["vocab"].items()}
    added: dict[int, dict[str, Any]] = {entry["id"]: entry for entry in tokenizer.get("added_tokens", [])}
    by_id.update({token_id: entry["content"] for token_id, entry in added.items()})
    if by_id and max(by_id) >= vocab_size:
        raise ModelUnavailable(f"{path} has token id {max(by_id)}, beyond the model's vocabulary of {vocab_size}")
    tokens: list[str] = []
    types: list[int] = []
    for token_id in range(vocab_size):
        token = by_id.get(token_id)
        if token is None:
            tokens.append(f"[PAD{token_id}]")
            types.append(gguf.TokenType.UNUSED)
        elif token_id in added and (added[token_id].get("special") or _looks_special(token)):
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL)
        elif token_id in added:
            tokens.append(_phantom(token.replace(_PHANTOM_SPACE, " ")))
            types.append(gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(_phantom(token))
            types.append(gguf.TokenType.NORMAL)
    lowercase, strip_accents = _normalizer_flags(tokenizer.get("normalizer") or {})
    return WordPieceVocab(tokens, types, lowercase, strip_accents, text)


def _phantom(token: str) -> str:
    """llama.cpp marks the start of a word with U+2581 instead of marking continuations with '##'."""
    return token[len(_CONTINUATION) :] if token.startswith(_CONTINUATION) else _PHANTOM_SPACE + token


def _looks_special(token: str) -> bool:
    # convert_hf_to_gguf.py's does_token_look_special, for added tokens not flagged special.
    return (
        token in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
        or (token.startswith("<|") and token.endswith("|>"))
        or (token.startswith("<\uff5c") and token.endswith("\uff5c>"))
        or (token.startswith("<unused") and token.endswith(">"))
    )


def _normalizer_flags(normalizer: dict[str, Any]) -> tuple[bool | None, bool | None]:
    """(lowercase, strip_accents) from a tokenizers normalizer: a BertNormalizer's attributes, standalone
    Lowercase/StripAccents steps, or those nested in a Sequence. None where it says nothing (an unset
    strip_accents then follows lowercase, in llama.cpp as in tokenizers)."""
    kind = normalizer.get("type")
    if kind == "Lowercase":
        return True, None
    if kind == "StripAccents":
        return None, True
    if kind == "BertNormalizer":
        return normalizer.get("lowercase"), normalizer.get("strip_accents")
    lowercase = strip_accents = None
    if kind == "Sequence":
        for step in normalizer.get("normalizers", []):
            step_lowercase, step_strip = _normalizer_flags(step)
            lowercase = step_lowercase if step_lowercase is not None else lowercase
            strip_accents = step_strip if step_strip is not None else strip_accents
    return lowercase, strip_accents
