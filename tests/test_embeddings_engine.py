"""The embedding engine on its own, with the real default embedding model (all-MiniLM-L6-v2, converted from the
package's safetensors by enclave) on real llama.cpp: conversion, agreement with sentence-transformers' vectors,
batching that never mixes inputs up (ollama#6262), refusals, and running beside the chat engine."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest
from safetensors.numpy import save_file

from enclave.config import ModelConfig
from enclave.engines.base import ChatMessage, GenerationRequest, SamplingParams
from enclave.engines.convert.bert import convert_bert
from enclave.engines.default_embedding import default_embedding_model_path
from enclave.engines.llamacpp.embedder import EmbedderSettings, LlamaEmbedder
from enclave.engines.llamacpp.embedding_tokenizer import EmbeddingTokenizer
from enclave.engines.llamacpp.engine import EmbeddedEngine
from enclave.engines.llamacpp.model import LlamaModel
from enclave.errors import ContextLengthExceeded, EngineOverloaded, InvalidRequest, ModelUnavailable
from tests.waiting import wait_until_async

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8"))
# Different short texts, all of which fit one batch together.
SHORT = [
    f"{who} {what} on {day}."
    for who in ("The nurse", "A pilot", "My neighbour", "The robot")
    for what in ("fixed the printer", "baked bread", "sold the car", "lost a glove")
    for day in ("Monday", "Friday")
]


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 1.0 - np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.fixture(scope="session")
def conversions() -> list[tuple[int, int]]:
    return []


@pytest.fixture(scope="session")
def minilm_gguf(tmp_path_factory: pytest.TempPathFactory, conversions: list[tuple[int, int]]) -> Path:
    """Converted once per test session, into a data folder of its own."""
    data_dir = tmp_path_factory.mktemp("embedding-data")
    return default_embedding_model_path(data_dir, progress=lambda done, total: conversions.append((done, total)))


@pytest.fixture(scope="module")
def embedder(minilm_gguf: Path) -> Iterator[LlamaEmbedder]:
    engine = LlamaEmbedder(minilm_gguf, name="all-minilm-l6-v2", source="test", settings=EmbedderSettings(threads=2))
    yield engine
    asyncio.run(engine.close())


@pytest.fixture
def make_embedder(minilm_gguf: Path) -> Iterator[Callable[..., LlamaEmbedder]]:
    engines: list[LlamaEmbedder] = []

    def make(**settings: object) -> LlamaEmbedder:
        engines.append(
            LlamaEmbedder(minilm_gguf, name="minilm-custom", source="test", settings=EmbedderSettings(**settings))  # type: ignore[arg-type]
        )
        return engines[-1]

    yield make
    for engine in engines:
        asyncio.run(engine.close())


@pytest.fixture(scope="module")
def short_alone(embedder: LlamaEmbedder) -> np.ndarray:
    """Each of SHORT embedded in a request of its own: what it must get in any company."""
    return alone(embedder, SHORT)


def embed(engine: LlamaEmbedder, inputs: list, **kw: object) -> np.ndarray:
    return asyncio.run(engine.embed(inputs, **kw)).vectors  # type: ignore[arg-type]


def alone(engine: LlamaEmbedder, inputs: list) -> np.ndarray:
    async def each() -> list[np.ndarray]:
        return [(await engine.embed([item])).vectors[0] for item in inputs]

    return np.array(asyncio.run(each()))


def assert_each_is_its_own(got: np.ndarray, expected: np.ndarray) -> None:
    """Row i of ``got`` is the vector of input i: next to identical to it, and nearer to it than to any other."""
    assert got.shape == expected.shape
    assert cosine_distance(got, expected).max() < 1e-5
    similarity = got @ expected.T
    assert list(similarity.argmax(axis=1)) == list(range(len(got)))


def test_the_packaged_model_converts_once_into_a_gguf_llama_cpp_loads(
    minilm_gguf: Path, conversions: list[tuple[int, int]], embedder: LlamaEmbedder
) -> None:
    assert conversions and conversions[-1][0] == conversions[-1][1] > 40_000_000  # the progress reached the end
    reader = gguf.GGUFReader(minilm_gguf)
    fields = reader.fields

    def value(key: str) -> object:
        return fields[key].contents()

    assert value("general.architecture") == "bert"
    assert value("bert.pooling_type") == gguf.PoolingType.MEAN
    assert value("bert.attention.causal") is False
    assert value("tokenizer.ggml.model") == "bert"
    assert len(fields["tokenizer.ggml.tokens"].data) == 30522
    assert value("tokenizer.ggml.token_type_count") == 2
    names = {tensor.name: tensor.tensor_type.name for tensor in reader.tensors}
    assert names["token_embd.weight"] == "F16" and names["blk.5.ffn_down.weight"] == "F16"
    assert names["position_embd.weight"] == names["token_types.weight"] == names["blk.0.attn_q.bias"] == "F32"
    assert not any(name.startswith("pooler") for name in names)
    # llama.cpp loaded it: BERT with mean pooling, 384 dimensions, a 512-token window.
    assert (embedder.info.architecture, embedder.pooling, embedder.dimensions, embedder.window) == (
        "bert",
        "mean",
        384,
        512,
    )
    assert embedder.tokenizer.source == "huggingface"
    # A later start reuses the file: no second conversion, and no temporary files left beside it.
    again: list[tuple[int, int]] = []
    assert default_embedding_model_path(minilm_gguf.parent.parent, progress=lambda d, t: again.append((d, t))) == (
        minilm_gguf
    )
    assert again == []
    assert [p.name for p in minilm_gguf.parent.iterdir()] == [minilm_gguf.name]


def test_a_failed_conversion_leaves_no_file_behind(minilm_gguf: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    config = {
        "architectures": ["BertModel"],
        "vocab_size": 4,
        "hidden_size": 4,
        "intermediate_size": 8,
        "num_attention_heads": 1,
        "num_hidden_layers": 1,
        "max_position_embeddings": 8,
    }
    (checkpoint / "config.json").write_text(json.dumps(config))
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
    tokenizer = {"model": {"type": "WordPiece", "vocab": vocab}, "added_tokens": []}
    (checkpoint / "tokenizer.json").write_text(json.dumps(tokenizer))
    tensors = {"embeddings.word_embeddings.weight": np.zeros((4, 4), np.float32), "mystery.weight": np.zeros(4)}
    save_file(tensors, str(checkpoint / "model.safetensors"))
    target = tmp_path / "out" / "model.gguf"
    with pytest.raises(ModelUnavailable, match=r"mystery\.weight"):
        convert_bert(checkpoint, target, name="broken")
    assert list(target.parent.iterdir()) == []


def test_vectors_agree_with_the_sentence_transformers_reference(embedder: LlamaEmbedder) -> None:
    items = REFERENCE["items"]
    assert len(items) >= 20
    result = asyncio.run(embedder.embed([item["text"] for item in items]))
    expected = np.array([item["vector"] for item in items])
    distances = cosine_distance(result.vectors, expected)
    assert distances.max() < 1e-3, {items[i]["text"][:30]: float(d) for i, d in enumerate(distances) if d >= 1e-3}
    # The same tokens as the reference tokenizer, counted for usage with [CLS] and [SEP].
    assert result.tokens == tuple(len(item["tokens"]) for item in items)
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-6)


def test_token_ids_embed_like_the_text_they_stand_for(embedder: LlamaEmbedder) -> None:
    item = REFERENCE["items"][3]
    ids = item["tokens"][1:-1]  # the text's tokens, without [CLS] and [SEP]: the engine adds those
    from_text, from_ids = alone(embedder, [item["text"], ids])
    assert np.array_equal(from_text, from_ids)
    assert asyncio.run(embedder.embed([ids])).tokens == (len(item["tokens"]),)


def test_a_batch_of_32_different_inputs_in_one_call_each_get_their_own_vector(
    embedder: LlamaEmbedder, short_alone: np.ndarray
) -> None:
    assert len(set(SHORT)) == 32
    before = embedder.stats()["batches"]
    together = embed(embedder, SHORT)
    assert embedder.stats()["batches"] == before + 1  # all 32 in one llama.cpp call
    assert_each_is_its_own(together, short_alone)


def test_eight_concurrent_callers_each_get_their_own_vector(embedder: LlamaEmbedder, short_alone: np.ndarray) -> None:
    texts = SHORT[::4]
    expected = short_alone[::4]
    before = embedder.stats()["batches"]

    async def callers() -> list[np.ndarray]:
        results = await asyncio.gather(*(embedder.embed([text]) for text in texts))
        return [r.vectors[0] for r in results]

    assert_each_is_its_own(np.array(asyncio.run(callers())), expected)
    assert embedder.stats()["batches"] - before < len(texts)  # callers shared batches


def test_a_request_larger_than_a_batch_comes_back_in_input_order(embedder: LlamaEmbedder) -> None:
    texts = [item["text"] for item in REFERENCE["items"]] * 2  # about 1,400 tokens: several batches
    before = embedder.stats()["batches"]
    vectors = embed(embedder, texts)
    assert embedder.stats()["batches"] - before >= 3
    expected = np.array([item["vector"] for item in REFERENCE["items"]] * 2)
    assert cosine_distance(vectors, expected).max() < 1e-3


def test_an_input_longer_than_the_window_is_refused_naming_both_numbers(embedder: LlamaEmbedder) -> None:
    with pytest.raises(ContextLengthExceeded) as refused:
        embed(embedder, ["fine", "hello " * 600])
    assert refused.value.param == "input" and refused.value.status == 400
    assert "512" in refused.value.message and "602" in refused.value.message and "input 1" in refused.value.message
    with pytest.raises(ContextLengthExceeded, match="513"):
        embed(embedder, [[1996] * 511])  # 511 ids plus [CLS] and [SEP]
    assert embed(embedder, [[1996] * 510]).shape == (1, 384)  # exactly the window is fine


@pytest.mark.parametrize(
    ("inputs", "says"),
    [([], "must not be empty"), ([""], "the input is an empty string"), (["ok", []], "input 1 is an empty list")],
)
def test_empty_input_is_refused(embedder: LlamaEmbedder, inputs: list, says: str) -> None:
    with pytest.raises(InvalidRequest, match=says) as refused:
        embed(embedder, inputs)
    assert refused.value.param == "input" and refused.value.status == 400


def test_token_ids_outside_the_vocabulary_are_refused(embedder: LlamaEmbedder) -> None:
    for wrong in (30522, -1, 1.5):
        with pytest.raises(InvalidRequest, match=f"token {wrong}, not a token id of this model's vocabulary of 30522"):
            embed(embedder, [[101, wrong]])


def test_without_its_own_tokenizer_a_model_is_tokenized_by_llama_cpp(model_path: Path) -> None:
    model = LlamaModel(model_path)  # SmolLM2's GGUF carries no tokenizer.huggingface.json
    try:
        tokenizer = EmbeddingTokenizer(model)
        assert tokenizer.source == "llama.cpp"
        text = "Embeddings, tokenized by llama.cpp."
        assert tokenizer.encode(text) == tokenizer.wrap(model.tokenize(text, add_bos=False))
    finally:
        model.close()


def test_dimensions_are_refused_for_a_model_not_trained_to_shorten(embedder: LlamaEmbedder) -> None:
    assert embedder.supports_dimensions is False
    with pytest.raises(InvalidRequest, match="does not support shortened embeddings") as refused:
        embed(embedder, ["hello"], dimensions=128)
    assert refused.value.param == "dimensions"


def test_dimensions_truncate_and_renormalise_where_the_model_allows_it(
    embedder: LlamaEmbedder, make_embedder: Callable[..., LlamaEmbedder]
) -> None:
    shortening = make_embedder(threads=2, shortenable=True)
    full = embed(embedder, ["a short text", "another one"])
    short = embed(shortening, ["a short text", "another one"], dimensions=64)
    expected = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)
    assert short.shape == (2, 64) and np.allclose(short, expected, atol=1e-6)
    for wrong in (0, 385):
        with pytest.raises(InvalidRequest, match="between 1 and 384"):
            embed(shortening, ["x"], dimensions=wrong)


def test_a_full_queue_refuses_with_429_and_the_waiting_request_still_completes(
    make_embedder: Callable[..., LlamaEmbedder],
) -> None:
    small = make_embedder(threads=2, sequences=1, queue_inputs=8)

    async def run() -> None:
        first = asyncio.ensure_future(small.embed(SHORT[:20]))  # one input per batch: it drains slowly
        await asyncio.sleep(0)  # let it be submitted
        with pytest.raises(EngineOverloaded):
            await small.embed(["one more"])
        assert (await first).vectors.shape == (20, 384)

    asyncio.run(run())


def test_a_caller_that_goes_away_leaves_the_engine_to_the_next(
    make_embedder: Callable[..., LlamaEmbedder], short_alone: np.ndarray
) -> None:
    small = make_embedder(threads=2, sequences=1)

    async def run() -> None:
        abandoned = asyncio.ensure_future(small.embed(SHORT[:20]))
        await wait_until_async(lambda: small.stats()["inputs"] >= 1, message="the first input embedded")
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        assert_each_is_its_own((await small.embed(SHORT[:2])).vectors, short_alone[:2])
        assert small.stats()["inputs"] < 20  # the rest of the abandoned request was never evaluated

    asyncio.run(run())


def test_embedding_runs_on_its_own_thread_beside_the_chat_engine(
    embedder: LlamaEmbedder, short_alone: np.ndarray, model_path: Path
) -> None:
    # llama.cpp built with AMX crashes when evaluating outside the main thread: here it always is.
    workers = [t for t in threading.enumerate() if t.name == "embedder:all-minilm-l6-v2"]
    assert workers and all(t is not threading.main_thread() for t in workers)
    chat = EmbeddedEngine(ModelConfig(name="smollm2-135m", context=512, threads=2, parallel=2), model_path, "test")
    request = GenerationRequest(
        messages=(ChatMessage("user", "Name three colours."),), sampling=SamplingParams(temperature=0), max_tokens=24
    )

    async def both() -> tuple[str, np.ndarray]:
        async def generate() -> str:
            return "".join([delta.text async for delta in await chat.submit(request)])

        text, result = await asyncio.gather(generate(), embedder.embed(SHORT[:8]))
        return text, result.vectors

    try:
        text, vectors = asyncio.run(both())
    finally:
        asyncio.run(chat.close())
    assert text
    assert_each_is_its_own(vectors, short_alone[:8])
