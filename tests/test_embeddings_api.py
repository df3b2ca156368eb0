"""POST /v1/embeddings through the official openai SDK against real servers with the real default embedding model
(all-MiniLM-L6-v2, converted by enclave): the wire shape, refusals, keys, projects, limits, the guard, routing to a
hosted stand-in and back, and the ledger and audit rows each request leaves."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import yaml
from sqlalchemy import select

from enclave.assembly import build_gateway
from enclave.config import Settings
from enclave.engines.default_embedding import default_embedding_model_path
from enclave.gateway import EmbeddingCall, EmbeddingResult
from enclave.store.db import open_engine
from enclave.store.schema import audit_log, usage
from tests.fake_upstream import EMBEDDING_TOKENS_PER_INPUT, FakeUpstream, fake_embedding, fake_upstream
from tests.servers import enclave, running_server
from tests.test_access_http import within_one_minute
from tests.waiting import wait_until

EMBEDDING = "all-minilm-l6-v2"
CHAT = "smollm2-135m"
ROOT = Path(__file__).parent.parent
REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8"))
DOCUMENTS = ["The cat sat on the mat.", "Stock prices fell sharply today.", "A recipe for lemon cake."]
CARD = "4111 1111 1111 1111"  # a test card number (Luhn-valid): CREDIT_CARD, kept local by default
EMAIL = "jane.roe@example.org"  # EMAIL_ADDRESS: pseudonymize for chat, so kept local for embeddings
IBAN = "DE89 3704 0044 0532 0130 00"  # IBAN: blocked


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def vectors(response: Any) -> np.ndarray:
    return np.array([item.embedding for item in response.data], dtype=np.float32)


# --- the default configuration: no models configured, both default models served --------------------------------


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("embed-default")
    config = directory / "enclave.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(directory)}))  # nothing about models: the defaults
    with running_server(config, directory / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def client(default_server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{default_server}/v1", api_key="unused", max_retries=0)


def test_the_default_configuration_serves_an_embedding_model_beside_the_chat_model(client: openai.OpenAI) -> None:
    cards = {m.id: m.model_dump() for m in client.models.list()}
    assert set(cards) == {CHAT, EMBEDDING}
    assert cards[EMBEDDING]["type"] == "embedding" and cards[EMBEDDING]["context_length"] == 512
    assert cards[CHAT]["type"] == "chat" and cards[CHAT]["context_length"] == 4096
    assert client.models.retrieve(EMBEDDING).model_dump()["type"] == "embedding"


def test_float_and_base64_give_the_same_vectors(client: openai.OpenAI, default_server: str) -> None:
    as_floats = client.embeddings.create(model=EMBEDDING, input=DOCUMENTS, encoding_format="float")
    as_base64 = client.embeddings.create(model=EMBEDDING, input=DOCUMENTS)  # the SDK asks for base64 and decodes
    assert as_floats.object == "list" and as_floats.model == EMBEDDING
    assert [(d.object, d.index) for d in as_floats.data] == [("embedding", i) for i in range(3)]
    assert vectors(as_floats).shape == (3, 384)
    assert np.array_equal(vectors(as_floats), vectors(as_base64))
    assert np.allclose(np.linalg.norm(vectors(as_floats), axis=1), 1.0, atol=1e-5)
    raw = httpx.post(
        f"{default_server}/v1/embeddings",
        json={"model": EMBEDDING, "input": DOCUMENTS, "encoding_format": "base64"},
        timeout=60,
    ).json()
    decoded = [np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4") for item in raw["data"]]
    assert np.array_equal(np.array(decoded), vectors(as_floats))  # little-endian float32, bit for bit
    assert raw["object"] == "list" and raw["usage"]["prompt_tokens"] == raw["usage"]["total_tokens"] > 0


def test_a_batch_keeps_input_order_and_each_input_gets_its_own_vector(client: openai.OpenAI) -> None:
    texts = [item["text"] for item in REFERENCE["items"][:12]]
    batch = vectors(client.embeddings.create(model=EMBEDDING, input=texts, encoding_format="float"))
    alone = np.array(
        [vectors(client.embeddings.create(model=EMBEDDING, input=t, encoding_format="float"))[0] for t in texts]
    )
    assert all(cosine(batch[i], alone[i]) > 1 - 1e-5 for i in range(len(texts)))
    expected = np.array([item["vector"] for item in REFERENCE["items"][:12]])
    assert all(cosine(batch[i], expected[i]) > 1 - 1e-3 for i in range(len(texts)))  # sentence-transformers'
    usage = client.embeddings.create(model=EMBEDDING, input=texts).usage
    assert usage.prompt_tokens == usage.total_tokens == sum(len(i["tokens"]) for i in REFERENCE["items"][:12])


def test_token_ids_embed_like_the_text_they_stand_for(client: openai.OpenAI) -> None:
    item = REFERENCE["items"][3]
    ids = item["tokens"][1:-1]  # without [CLS] and [SEP]: the model adds those, as for text
    from_text = vectors(client.embeddings.create(model=EMBEDDING, input=item["text"], encoding_format="float"))
    one = client.embeddings.create(model=EMBEDDING, input=ids, encoding_format="float")
    many = client.embeddings.create(model=EMBEDDING, input=[ids, ids[:5]], encoding_format="float")
    assert np.array_equal(vectors(one)[0], from_text[0])
    assert cosine(vectors(many)[0], from_text[0]) > 1 - 1e-5  # batched with another input: to float rounding
    assert len(many.data) == 2 and one.usage.prompt_tokens == len(item["tokens"])


@pytest.mark.parametrize("empty", ["", [], [""], ["fine", ""], [[]]])
def test_empty_input_is_a_400_naming_input(client: openai.OpenAI, empty: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=EMBEDDING, input=empty, encoding_format="float")
    assert caught.value.status_code == 400 and caught.value.param == "input"


def test_input_longer_than_the_window_is_a_400_naming_both_numbers(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=EMBEDDING, input=["short", "word " * 600], encoding_format="float")
    error = caught.value
    assert error.code == "context_length_exceeded" and error.param == "input"
    assert "512" in error.message and "602" in error.message and "input 1" in error.message


def test_dimensions_on_a_model_that_cannot_shorten_is_a_400_naming_dimensions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=EMBEDDING, input="hello", dimensions=64)
    assert caught.value.param == "dimensions"


def test_unknown_model_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="text-embedding-9", input="hello")
    assert caught.value.code == "model_not_found"


def test_a_model_of_the_other_type_is_refused_clearly(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=CHAT, input="hello")
    assert caught.value.code == "model_type_mismatch" and "/v1/chat/completions" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=EMBEDDING, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    assert caught.value.code == "model_type_mismatch" and "/v1/embeddings" in caught.value.message


def test_malformed_inputs_are_400_not_500(default_server: str) -> None:
    for body in (
        {"model": EMBEDDING, "input": ["text", 3]},
        {"model": EMBEDDING, "input": [-1, 5]},
        {"model": EMBEDDING, "input": "x", "encoding_format": "int8"},
        {"model": EMBEDDING, "input": "x", "dimensions": 0},
        {"model": EMBEDDING, "input": "x", "temperature": 1},
        {"model": EMBEDDING, "input": [10**9]},  # a token id outside the vocabulary
    ):
        response = httpx.post(f"{default_server}/v1/embeddings", json=body, timeout=60)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_the_retrieval_example_finds_the_right_document(default_server: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "retrieval.py"), "How do I bake a cake?"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"ENCLAVE_BASE_URL": f"{default_server}/v1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[1]  # after the query line: the best match
    assert "cake" in first.lower(), result.stdout


# --- a gateway with keys, projects, the guard and a hosted stand-in ----------------------------------------------


@dataclass
class Gateway:
    url: str
    db: Path
    keys: dict[str, str]
    fake: FakeUpstream

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys['admin']}"}, timeout=60)

    def project_key(self, project: dict[str, object], **key: object) -> str:
        with self.admin() as admin:
            assert admin.post("/admin/projects", json=project).status_code == 201
            made = admin.post(
                "/admin/keys",
                json={"name": f"{project['name']}-dev", "role": "developer", "project": project["name"], **key},
            )
            assert made.status_code == 201, made.text
            return str(made.json()["key"])

    def row(self, request_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ledger row and the audit entry of one request, once the background writer has written them."""

        def written() -> tuple[dict[str, Any], dict[str, Any]] | None:
            engine = open_engine(f"sqlite:///{self.db}")
            with engine.connect() as connection:
                row = connection.execute(select(usage).where(usage.c.request_id == request_id)).mappings().first()
                entries = connection.execute(
                    select(audit_log.c.details, audit_log.c.action, audit_log.c.outcome).where(
                        audit_log.c.action == "inference"
                    )
                ).all()
            engine.dispose()
            audit = [
                {**json.loads(e.details), "outcome": e.outcome}
                for e in entries
                if json.loads(e.details).get("request_id") == request_id
            ]
            return (dict(row), audit[0]) if row is not None and audit else None

        return wait_until(written, message=f"request {request_id} in the ledger and the audit log")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("embed-gateway")
    converted = default_embedding_model_path(directory, progress=lambda done, total: None)
    with fake_upstream() as fake:
        settings = {
            "data_dir": str(directory),
            "auth": {"mode": "on", "cache_seconds": 0},
            "ledger": {"flush_seconds": 0.2},
            "audit": {"checkpoint_seconds": 0},
            "models": [
                {"name": CHAT, "context": 512, "parallel": 2, "threads": 1},
                {"name": EMBEDDING, "type": "embedding", "threads": 2},
                # The same weights, declared shortenable: dimensions truncates and renormalises.
                {"name": "minilm-short", "type": "embedding", "path": str(converted), "shortenable": True},
            ],
            "providers": [{"name": "hosted", "base_url": fake.url, "zone": "external", "retries": 0}],
            "routes": [
                {"name": "text-embedding-3-small", "type": "embedding", "targets": ["hosted/embed-ok"]},
                {"name": "hybrid", "type": "embedding", "targets": ["hosted/embed-ok.hybrid", f"embedded/{EMBEDDING}"]},
                {"name": "flaky", "type": "embedding", "targets": ["hosted/fail500", f"embedded/{EMBEDDING}"]},
            ],
            "guard": {"actions": {"EMAIL_ADDRESS": "pseudonymize", "IBAN": "block"}},
            "prices": {
                "tokens": {"hosted/embed-ok": {"input": 20.0, "output": 0.0}},
                "hourly": {"embedded": 3600.0},  # a busy second costs 1
            },
        }
        config = directory / "enclave.yaml"
        config.write_text(yaml.safe_dump(settings))
        made = enclave("keys", "create", "--name", "bootstrap", "--role", "admin", config=config)
        assert made.returncode == 0, made.stderr
        keys = {"admin": made.stdout.strip()}
        with running_server(config, directory / "server.log") as url:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['admin']}"}) as admin:
                for role in ("developer", "viewer"):
                    response = admin.post("/admin/keys", json={"name": role, "role": role})
                    assert response.status_code == 201, response.text
                    keys[role] = response.json()["key"]
            yield Gateway(url, directory / "enclave.db", keys, fake)


def test_keys_and_roles_decide_who_may_embed(gateway: Gateway) -> None:
    assert gateway.client(gateway.keys["developer"]).embeddings.create(model=EMBEDDING, input="hi").data
    with pytest.raises(openai.PermissionDeniedError):
        gateway.client(gateway.keys["viewer"]).embeddings.create(model=EMBEDDING, input="hi")
    with pytest.raises(openai.AuthenticationError):
        gateway.client("enc_00000000_not-a-key").embeddings.create(model=EMBEDDING, input="hi")


def test_a_project_may_embed_only_with_its_allowed_models(gateway: Gateway) -> None:
    key = gateway.project_key({"name": "embed-only-short", "allowed_models": ["minilm-short"]})
    client = gateway.client(key)
    assert client.embeddings.create(model="minilm-short", input="hi").data
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.embeddings.create(model=EMBEDDING, input="hi")
    assert caught.value.param == "model"
    assert [m.id for m in client.models.list()] == ["minilm-short"]


def test_dimensions_truncates_and_renormalises_where_the_model_is_declared_shortenable(gateway: Gateway) -> None:
    client = gateway.client(gateway.keys["developer"])
    full = vectors(client.embeddings.create(model="minilm-short", input=DOCUMENTS, encoding_format="float"))
    short = vectors(
        client.embeddings.create(model="minilm-short", input=DOCUMENTS, dimensions=64, encoding_format="float")
    )
    assert short.shape == (3, 64)
    assert np.allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-5)
    expected = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)
    assert np.allclose(short, expected, atol=1e-6)
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="minilm-short", input="hi", dimensions=385)
    assert caught.value.param == "dimensions"


def test_rate_limit_and_budget_refuse_embeddings(gateway: Gateway) -> None:
    def run(suffix: str) -> tuple[int, openai.RateLimitError]:
        client = gateway.client(gateway.project_key({"name": f"embed-rpm{suffix}"}, rpm=1))
        served = len(client.embeddings.create(model=EMBEDDING, input="one").data)
        with pytest.raises(openai.RateLimitError) as caught:
            client.embeddings.create(model=EMBEDDING, input="two")
        return served, caught.value

    served, refused = within_one_minute(run)
    assert served == 1 and refused.code == "rate_limit_exceeded"
    client = gateway.client(gateway.project_key({"name": "embed-budget", "monthly_budget": 0.000001}))
    assert client.embeddings.create(model=EMBEDDING, input="spend it").data  # a few ms at 1 per second
    with pytest.raises(openai.RateLimitError) as spent:
        client.embeddings.create(model=EMBEDDING, input="once more")
    assert spent.value.code == "insufficient_quota"


def test_public_text_goes_to_the_hosted_model_and_is_accounted_at_its_price(gateway: Gateway) -> None:
    client = gateway.client(gateway.keys["developer"])
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=DOCUMENTS, encoding_format="float"
    )
    response = raw.parse()
    assert raw.headers["x-enclave-route"] == "hosted/embed-ok" and raw.headers["x-enclave-zone"] == "external"
    # The stand-in answers its data in reverse order: each vector is placed by its index.
    assert np.allclose(vectors(response), np.array([fake_embedding(text) for text in DOCUMENTS]), atol=1e-6)
    assert response.usage.prompt_tokens == 3 * EMBEDDING_TOKENS_PER_INPUT and response.model == "embed-ok"
    assert gateway.fake.last("embed-ok")["input"] == DOCUMENTS
    row, audit = gateway.row(raw.headers["x-request-id"])
    assert (row["endpoint"], row["status"], row["target"], row["zone"]) == (
        "embeddings",
        "ok",
        "hosted/embed-ok",
        "external",
    )
    assert row["prompt_tokens"] == 9 and row["completion_tokens"] == 0
    assert row["cost"] == pytest.approx(9 * 20.0 / 1e6)
    assert audit["endpoint"] == "embeddings" and audit["target"] == "hosted/embed-ok" and audit["tokens"] == [9, 0]
    assert audit["outcome"] == "ok"
    with_dims = client.embeddings.create(
        model="text-embedding-3-small", input="hi", dimensions=4, encoding_format="float"
    )
    assert len(with_dims.data[0].embedding) == 4 and gateway.fake.last("embed-ok")["dimensions"] == 4


@pytest.mark.parametrize(("secret", "finding"), [(CARD, "CREDIT_CARD"), (EMAIL, "EMAIL_ADDRESS")])
def test_personal_data_is_embedded_locally_and_never_sent_out(gateway: Gateway, secret: str, finding: str) -> None:
    """keep_local keeps it inside; so does pseudonymize, which cannot apply: a vector cannot be restored."""
    client = gateway.client(gateway.keys["developer"])
    before = len(gateway.fake.received)
    raw = client.embeddings.with_raw_response.create(
        model="hybrid", input=["Nothing here.", f"My card is {secret} today."], encoding_format="float"
    )
    assert raw.headers["x-enclave-route"] == f"embedded/{EMBEDDING}"
    assert raw.headers["x-enclave-guard"] == f"{finding}=1"
    assert raw.headers["x-enclave-guard-action"] == f"{finding}=keep_local"
    assert raw.headers["x-enclave-data-class"] in ("confidential", "restricted")
    assert len(gateway.fake.received) == before and secret not in gateway.fake.texts()
    local = vectors(
        client.embeddings.create(model=EMBEDDING, input=f"My card is {secret} today.", encoding_format="float")
    )
    # The local model's vector of the real text (batched with another input: equal to float rounding).
    assert cosine(vectors(raw.parse())[1], local[0]) > 1 - 1e-5
    row, audit = gateway.row(raw.headers["x-request-id"])
    assert row["target"] == f"embedded/{EMBEDDING}" and row["guard"] == f"{finding}=1"
    assert audit["guard"] == {finding: 1} and secret not in json.dumps(audit)


def test_a_blocked_finding_refuses_the_request(gateway: Gateway) -> None:
    client = gateway.client(gateway.keys["developer"])
    before = len(gateway.fake.received)
    for model in ("hybrid", EMBEDDING):
        with pytest.raises(openai.BadRequestError) as caught:
            client.embeddings.create(model=model, input=f"Pay to {IBAN} please.")
        assert caught.value.code == "sensitive_data_blocked" and "IBAN" in caught.value.message
        assert IBAN not in caught.value.message
    assert len(gateway.fake.received) == before


def test_token_ids_stay_local_the_guard_cannot_read_them(gateway: Gateway) -> None:
    raw = gateway.client(gateway.keys["developer"]).embeddings.with_raw_response.create(
        model="hybrid", input=[[7592, 2088]], encoding_format="float"
    )
    assert raw.headers["x-enclave-route"] == f"embedded/{EMBEDDING}"
    assert raw.headers["x-enclave-data-class"] == "restricted"


def test_a_failing_hosted_model_falls_back_to_the_local_one(gateway: Gateway) -> None:
    client = gateway.client(gateway.keys["developer"])
    raw = client.embeddings.with_raw_response.create(model="flaky", input=DOCUMENTS[0], encoding_format="float")
    assert raw.headers["x-enclave-route"] == f"embedded/{EMBEDDING}"
    local = client.embeddings.create(model=EMBEDDING, input=DOCUMENTS[0], encoding_format="float")
    assert np.array_equal(vectors(raw.parse()), vectors(local))
    assert gateway.fake.count("fail500") >= 1
    row, audit = gateway.row(raw.headers["x-request-id"])
    assert audit["target"] == f"embedded/{EMBEDDING}" and "hosted/fail500" not in json.dumps(audit)
    assert row["target"] == f"embedded/{EMBEDDING}" and row["cost"] > 0  # busy time at the hourly price
    # Confidential data may not take that route's first target at all: no attempt leaves.
    before = gateway.fake.count("fail500")
    confidential = client.embeddings.with_raw_response.create(
        model="flaky", input="hello", extra_headers={"x-enclave-data-class": "confidential"}
    )
    assert confidential.headers["x-enclave-route"] == f"embedded/{EMBEDDING}"
    assert gateway.fake.count("fail500") == before


def test_refusals_are_accounted_too(gateway: Gateway) -> None:
    raw = httpx.post(
        f"{gateway.url}/v1/embeddings",
        json={"model": EMBEDDING, "input": "word " * 600},
        headers={"Authorization": f"Bearer {gateway.keys['developer']}"},
        timeout=60,
    )
    assert raw.status_code == 400
    engine = open_engine(f"sqlite:///{gateway.db}")

    def refused() -> int:
        with engine.connect() as connection:
            rows = connection.execute(
                select(usage.c.status).where(
                    usage.c.endpoint == "embeddings", usage.c.status == "context_length_exceeded"
                )
            ).all()
        return len(rows)

    assert wait_until(refused, message="the refused request in the ledger") >= 1
    engine.dispose()


# --- the gateway itself, without a server ------------------------------------------------------------------------


def test_the_gateway_embeds_when_called_directly() -> None:
    # No data_dir: the session's private one, where the default model is converted once for every test using it.
    settings = Settings.model_validate({"models": [{"name": EMBEDDING, "type": "embedding", "threads": 1}]})

    async def run() -> EmbeddingResult:
        gateway = await build_gateway(settings)
        try:
            return await gateway.embed(EmbeddingCall(EMBEDDING, ("hello world", (7592, 2088))))
        finally:
            await gateway.close()

    result = asyncio.run(run())
    assert result.vectors.shape == (2, 384) and result.model == EMBEDDING
    assert result.prompt_tokens == 8 and result.headers["x-enclave-route"] == f"embedded/{EMBEDDING}"
    assert cosine(result.vectors[0], result.vectors[1]) > 1 - 1e-5  # "hello world" and its token ids


# --- configuration --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"models": [{"name": "m", "type": "embedding"}]}, "needs 'path' or 'repo'"),
        ({"models": [{"name": CHAT, "shortenable": True}]}, "'shortenable' is for embedding models"),
        (
            {"routes": [{"name": "e", "type": "embedding", "targets": [f"embedded/{CHAT}"]}]},
            "target embedded/smollm2-135m serves chat, not embedding",
        ),
        (
            {"routes": [{"name": "c", "targets": [f"embedded/{EMBEDDING}"]}]},
            "target embedded/all-minilm-l6-v2 serves embedding, not chat",
        ),
    ],
)
def test_a_model_of_the_wrong_type_is_a_configuration_error(
    tmp_path: Path, config: dict[str, object], message: str
) -> None:
    path = tmp_path / "enclave.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path), **config}))
    result = enclave("route", "list", config=path)
    assert result.returncode != 0 and message in result.stderr, result.stderr
