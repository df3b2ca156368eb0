"""Each target declares what it can do; a request that needs what a target lacks skips it, with the reason
recorded where the decision shows (headers, `route explain`, the audit log), and no capable target is a 400
naming the field."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import select

from enclave.assembly import build_gateway
from enclave.config import Settings
from enclave.engines.base import ChatMessage, GenerationRequest, ResponseFormat, ToolSpec
from enclave.errors import InvalidRequest, PolicyDenied
from enclave.gateway.needs import needs
from enclave.gateway.pipeline import InferenceCall
from enclave.routing.capabilities import CAPABILITIES, EMBEDDED_DEFAULT, Capability
from enclave.routing.policy import RequestFacts, Router
from enclave.store.db import open_engine
from enclave.store.schema import audit_log
from tests.fake_upstream import REPLY, FakeUpstream, fake_upstream
from tests.servers import enclave

TOOL = ToolSpec("get_weather", None, {"type": "object", "properties": {}})
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
ALL_BUT_PREFILL = set(CAPABILITIES) - {"assistant_prefill"}

CONFIG: dict[str, Any] = {
    "providers": [
        # A text-only server (an old vLLM without tool parsing, say), and a hosted API whose one model is older.
        {"name": "plain", "base_url": "http://127.0.0.1:9/v1", "zone": "local", "capabilities": ["n"]},
        {
            "name": "hosted",
            "base_url": "http://127.0.0.1:9/v1",
            "zone": "external",
            "capabilities": {"vision": False},
            "models": {"legacy": {"capabilities": {"tools": False, "json_schema": False}}},
        },
    ],
    "routes": [
        {"name": "assistant", "targets": ["plain/llama", "hosted/legacy", "hosted/modern", "embedded/smollm2-135m"]},
        {"name": "text-only", "targets": ["plain/llama"]},
    ],
}


def router(**policy: Any) -> Router:
    return Router(Settings.model_validate({**CONFIG, "policy": policy}))


def capabilities(target: str) -> set[str]:
    return set(next(t for t in router().table.targets() if str(t) == target).capabilities)


def test_each_kind_of_target_has_its_defaults_and_the_configuration_overrides_them() -> None:
    assert (
        capabilities("embedded/smollm2-135m")
        == set(EMBEDDED_DEFAULT)
        == {"tools", "parallel_tool_calls", "json_object", "json_schema", "logprobs", "n"}
    )
    assert capabilities("hosted/modern") == ALL_BUT_PREFILL - {"vision"}  # the provider's override
    assert capabilities("hosted/legacy") == ALL_BUT_PREFILL - {"vision", "tools", "json_schema"}  # and the model's
    assert capabilities("plain/llama") == {"n"}  # a list names exactly what a target can do


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"capabilities": {"toolz": True}}, "unknown key"),
        ({"capabilities": ["tools", "telepathy"]}, "unknown capabilities"),
        ({"models": {"no-such-model": {"capabilities": {"tools": False}}}}, "in no route or rule target"),
    ],
)
def test_a_mistyped_capability_setting_is_refused(override: dict[str, Any], message: str, tmp_path: Path) -> None:
    provider = {"name": "hosted", "base_url": "http://127.0.0.1:9/v1", "zone": "external", **override}
    config = {"providers": [provider], "routes": [{"name": "a", "targets": ["hosted/gpt"]}]}
    with pytest.raises(ValidationError):
        Settings.model_validate(config)
    path = tmp_path / "enclave.yaml"
    path.write_text(yaml.safe_dump(config))
    result = enclave("route", "list", "-c", str(path))
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize(
    ("request_", "wanted"),
    [
        (GenerationRequest(messages=(ChatMessage("user", "hi"),)), set()),
        (GenerationRequest(prompt="hi", n=2, logprobs=True), {"n", "logprobs"}),
        (GenerationRequest(messages=(ChatMessage("user", "hi"),), tools=(TOOL,)), {"tools"}),
        (
            GenerationRequest(messages=(ChatMessage("user", "hi"),), tools=(TOOL,), parallel_tool_calls=False),
            {"tools", "parallel_tool_calls"},
        ),
        (
            GenerationRequest(messages=(ChatMessage("user", "hi"),), response_format=ResponseFormat("json_object")),
            {"json_object"},
        ),
        (
            GenerationRequest(messages=(ChatMessage("user", "hi"),), response_format=ResponseFormat("json_schema", {})),
            {"json_schema"},
        ),
        (GenerationRequest(messages=(ChatMessage("user", "what is this?", images=(IMAGE,)),)), {"vision"}),
    ],
)
def test_what_a_request_needs_is_read_from_what_it_asks(request_: GenerationRequest, wanted: set[str]) -> None:
    assert needs(request_) == wanted


def test_targets_lacking_a_needed_capability_are_skipped_with_the_reason() -> None:
    decision = router().decide(RequestFacts("assistant", needs=frozenset({"tools", "json_schema"})))
    assert [str(t) for t in decision.targets] == ["hosted/modern", "embedded/smollm2-135m"]
    assert [(str(t), why) for t, why in decision.excluded] == [
        ("plain/llama", "cannot do tools, json_schema"),
        ("hosted/legacy", "cannot do tools, json_schema"),
    ]
    assert (
        decision.exclusions()
        == "plain/llama: cannot do tools, json_schema; hosted/legacy: cannot do tools, json_schema"
    )
    plain = router().decide(RequestFacts("assistant"))
    assert len(plain.targets) == 4 and not plain.excluded  # a plain request needs nothing


@pytest.mark.parametrize(
    ("model", "wanted", "param"),
    [
        ("assistant", {"vision"}, "messages"),  # nobody here can see
        ("text-only", {"tools", "logprobs"}, "tools"),
        ("text-only", {"json_schema"}, "response_format"),
    ],
)
def test_no_capable_target_is_a_bad_request_naming_the_field(model: str, wanted: set[Capability], param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        router().decide(RequestFacts(model, needs=frozenset(wanted)))
    assert refused.value.status == 400 and refused.value.param == param
    for capability in wanted:
        assert capability in refused.value.message


def test_capabilities_are_checked_among_the_targets_the_zone_allows() -> None:
    # Confidential data stays local: the local targets that remain cannot see images.
    with pytest.raises(InvalidRequest, match="vision") as refused:
        router().decide(RequestFacts("assistant", "confidential", needs=frozenset({"vision"})))
    assert "hosted" not in refused.value.message
    # The zone rule comes first: with no local target at all it stays a policy refusal.
    with pytest.raises(PolicyDenied):
        Router(
            Settings.model_validate(
                {
                    "providers": [{"name": "hosted", "base_url": "http://127.0.0.1:9/v1", "zone": "external"}],
                    "routes": [{"name": "cloud", "targets": ["hosted/gpt"]}],
                }
            )
        ).decide(RequestFacts("cloud", "restricted", needs=frozenset({"tools"})))


def test_route_explain_shows_what_was_skipped_for_a_capability(tmp_path: Path) -> None:
    path = tmp_path / "enclave.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    explained = enclave("route", "explain", "--model", "assistant", "--needs", "tools, json_schema", "-c", str(path))
    assert explained.returncode == 0, explained.stderr
    lines = explained.stdout.splitlines()
    assert "needs       tools, json_schema" in lines
    assert "targets     hosted/modern (external) -> embedded/smollm2-135m (local)" in lines
    assert "excluded    plain/llama (local): cannot do tools, json_schema" in lines
    assert "excluded    hosted/legacy (external): cannot do tools, json_schema" in lines
    refused = enclave("route", "explain", "--model", "text-only", "--needs", "vision", "-c", str(path))
    assert refused.returncode == 1 and "400" in refused.stdout and "param messages" in refused.stdout
    unknown = enclave("route", "explain", "--model", "assistant", "--needs", "telepathy", "-c", str(path))
    assert unknown.returncode == 2 and "unknown capability telepathy" in unknown.stderr


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as upstream:
        yield upstream


def test_the_skip_shows_in_the_headers_and_the_audit_entry(fake: FakeUpstream, tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path),
            "models": [],
            "providers": [
                {"name": "plain", "base_url": fake.url, "zone": "external", "capabilities": []},
                {"name": "hosted", "base_url": fake.url, "zone": "external", "capabilities": {"vision": False}},
            ],
            "routes": [{"name": "assistant", "targets": ["plain/ok.plain", "hosted/ok.full"]}],
        }
    )

    async def run() -> tuple[dict[str, str], str]:
        gateway = await build_gateway(settings)
        try:
            request = GenerationRequest(messages=(ChatMessage("user", "Weather?"),), tools=(TOOL,))
            answer = await gateway.infer(InferenceCall("assistant", request, "chat"))
            text = "".join([d.text async for d in answer])
            with pytest.raises(InvalidRequest) as refused:
                await gateway.infer(
                    InferenceCall(
                        "assistant",
                        GenerationRequest(messages=(ChatMessage("user", "What is this?", images=(IMAGE,)),)),
                        "chat",
                    )
                )
            assert refused.value.param == "messages" and "plain/ok.plain: cannot do vision" in refused.value.message
            return answer.headers, text
        finally:
            await gateway.close()

    before = fake.count("ok.plain")
    headers, text = asyncio.run(run())
    assert text == REPLY
    assert headers["x-enclave-route"] == "hosted/ok.full"
    assert headers["x-enclave-excluded"] == "plain/ok.plain: cannot do tools"
    assert fake.count("ok.plain") == before  # skipped, never sent
    engine = open_engine(f"sqlite:///{tmp_path / 'enclave.db'}")
    with engine.connect() as connection:
        entries = [
            json.loads(d)
            for d in connection.execute(
                select(audit_log.c.details).where(audit_log.c.action == "inference").order_by(audit_log.c.seq)
            ).scalars()
        ]
    engine.dispose()
    assert entries[0]["excluded"] == {"plain/ok.plain": "cannot do tools"}
