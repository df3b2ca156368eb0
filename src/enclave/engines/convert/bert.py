"""A BERT checkpoint (``config.json``, ``model.safetensors``, ``tokenizer.json``, optionally sentence-transformers'
``modules.json``) to a GGUF file for llama.cpp's BERT architecture.

Tensor names, tensor types and metadata are those llama.cpp's ``convert_hf_to_gguf.py`` writes for ``BertModel``
at its default output type: weight matrices in F16; norms, biases, position and token-type embeddings in F32;
the pooling layer and masked-LM head left out; the WordPiece vocabulary; the sentence-transformers pooling mode.
Reads with safetensors into numpy: no torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from safetensors import safe_open

from enclave.engines.convert.output import ConversionProgress, atomic_target
from enclave.engines.convert.wordpiece import WordPieceVocab, read_wordpiece
from enclave.errors import ModelUnavailable

ARCHITECTURES = frozenset({"BertModel", "BertForMaskedLM"})
# convert_hf_to_gguf.py names a pre-tokenizer by hashing transformers' tokens for a check text; BERT's uncased
# WordPiece tokenizer hashes to bge-small-en-v1.5's "bert-bge" (bench/minilm_reference.py prints the hash).
# llama.cpp ignores the name for WordPiece vocabularies, so no other BERT tokenizer needs its own.
_PRE_TOKENIZER = "bert-bge"
_SPECIAL_TOKENS = ("bos", "eos", "unk", "sep", "pad", "mask")
# Tensors an embedding model does not use (convert_hf_to_gguf.py drops them too).
_UNUSED = ("embeddings.position_ids", "pooler.", "cls.predictions", "cls.seq_relationship")
# Kept in F32 although two-dimensional: llama.cpp adds them to activations as they are.
_F32_TENSORS = frozenset({"position_embd.weight", "token_types.weight"})
# sentence-transformers' Pooling config: one flag per mode, or (newer) a "pooling_mode" name.
_POOLING_FLAGS = {
    "pooling_mode_mean_tokens": gguf.PoolingType.MEAN,
    "pooling_mode_cls_token": gguf.PoolingType.CLS,
    "pooling_mode_lasttoken": gguf.PoolingType.LAST,
}
_POOLING_MODES = {"mean": gguf.PoolingType.MEAN, "cls": gguf.PoolingType.CLS, "lasttoken": gguf.PoolingType.LAST}


def convert_bert(
    checkpoint: Path,
    target: Path,
    *,
    name: str,
    license_id: str | None = None,
    progress: ConversionProgress | None = None,
) -> None:
    """Write ``target`` (atomically) from the checkpoint folder; ModelUnavailable says what does not fit."""
    config = _read_json(checkpoint / "config.json")
    architectures = set(config.get("architectures") or [])
    if not architectures & ARCHITECTURES or config.get("position_embedding_type", "absolute") != "absolute":
        raise ModelUnavailable(f"{checkpoint} is not a BERT model with absolute positions ({sorted(architectures)})")
    vocab = read_wordpiece(checkpoint, int(config["vocab_size"]))
    weights_file = checkpoint / "model.safetensors"
    if not weights_file.is_file():
        raise ModelUnavailable(f"{checkpoint} has no model.safetensors")
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, int(config["num_hidden_layers"]))
    with safe_open(str(weights_file), framework="numpy") as weights, atomic_target(target) as temporary:
        stored: list[str] = weights.keys()
        plan = [(source, *_target_of(source, names)) for source in stored if not source.startswith(_UNUSED)]
        writer = gguf.GGUFWriter(temporary, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
        try:
            _add_metadata(writer, config, vocab, checkpoint, name, license_id)
            total = 0
            for source, tensor_name, dtype in plan:
                stored_as = weights.get_slice(source)
                if stored_as.get_dtype() not in ("F32", "F16"):
                    raise ModelUnavailable(f"{weights_file}: tensor {source} is {stored_as.get_dtype()}, not F32/F16")
                shape = stored_as.get_shape()
                nbytes = int(np.prod(shape)) * dtype.itemsize
                writer.add_tensor_info(tensor_name, shape, dtype, nbytes)
                total += nbytes
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
            done = 0
            for source, _, dtype in plan:
                data = np.ascontiguousarray(weights.get_tensor(source).astype(dtype, copy=False))
                writer.write_tensor_data(data)
                done += data.nbytes
                if progress is not None:
                    progress(done, total)
        finally:
            writer.close()


def _target_of(source: str, names: gguf.TensorNameMap) -> tuple[str, np.dtype[Any]]:
    """The GGUF name and type of a checkpoint tensor."""
    name = source.removeprefix("bert.")
    # Older checkpoints name the LayerNorm parameters gamma and beta.
    if name.endswith(".gamma"):
        name = name.removesuffix(".gamma") + ".weight"
    elif name.endswith(".beta"):
        name = name.removesuffix(".beta") + ".bias"
    mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
    if mapped is None:
        raise ModelUnavailable(f"checkpoint tensor {source!r} has no place in llama.cpp's BERT architecture")
    # Matrices go to F16; llama.cpp's code for vectors, norms and added embeddings takes F32.
    keep_f32 = not mapped.endswith(".weight") or mapped.endswith("_norm.weight") or mapped in _F32_TENSORS
    return mapped, np.dtype(np.float32 if keep_f32 else np.float16)


def _add_metadata(
    writer: gguf.GGUFWriter,
    config: dict[str, Any],
    vocab: WordPieceVocab,
    checkpoint: Path,
    name: str,
    license_id: str | None,
) -> None:
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    if license_id is not None:
        writer.add_license(license_id)
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_causal_attention(False)
    pooling = _pooling(checkpoint)
    if pooling is not None:
        writer.add_pooling_type(pooling)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre(_PRE_TOKENIZER)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    # GGUF has no key for the CLS token (llama.cpp takes BOS for it): convert_hf_to_gguf.py skips it too.
    special = gguf.SpecialVocab(checkpoint, n_vocab=len(vocab.tokens), special_token_types=_SPECIAL_TOKENS)
    special.add_to_gguf(writer, quiet=True)
    # What llama.cpp's own gguf-py (newer than the PyPI release) writes from the normalizer, by key.
    if vocab.lowercase is not None:
        writer.add_bool("tokenizer.ggml.normalizer.lowercase", vocab.lowercase)
    if vocab.strip_accents is not None:
        writer.add_bool("tokenizer.ggml.normalizer.strip_accents", vocab.strip_accents)
    # Beyond what convert_hf_to_gguf.py writes: the tokenizer itself (GGUF's standard key for it), which enclave
    # tokenizes with, since llama.cpp's own WordPiece normalisation drifts on Korean and Indic scripts.
    writer.add_string(gguf.Keys.Tokenizer.HF_JSON, vocab.huggingface_json)


def _pooling(checkpoint: Path) -> gguf.PoolingType | None:
    """The pooling of a sentence-transformers checkpoint (its Pooling module), None for a plain BERT."""
    modules_file = checkpoint / "modules.json"
    if not modules_file.is_file():
        return None
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    folder = next((m["path"] for m in modules if m.get("type", "").endswith("Pooling")), None)
    if folder is None:
        return None
    pooling = _read_json(checkpoint / folder / "config.json")
    for flag, kind in _POOLING_FLAGS.items():
        if pooling.get(flag):
            return kind
    if pooling.get("pooling_mode") in _POOLING_MODES:
        return _POOLING_MODES[pooling["pooling_mode"]]
    raise ModelUnavailable(f"{checkpoint}: only mean, CLS and last-token pooling are supported ({pooling})")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"cannot read {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise ModelUnavailable(f"{path} does not hold a JSON object")
    return value
