"""The policy on its own: which targets a request may use, which rule decided, and why."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from enclave.config import Settings
from enclave.errors import PolicyDenied
from enclave.routing.policy import RequestFacts, Router

BASE = {
    "providers": [
        {"name": "hosted", "base_url": "http://127.0.0.1:9/v1", "zone": "external", "api_key_env": "KEY"},
        {"name": "vllm", "base_url": "http://127.0.0.1:9/v1", "zone": "local"},
    ],
    "routes": [
        {"name": "assistant", "targets": ["hosted/gpt-4o-mini", "embedded/smollm2-135m"]},
        {"name": "gpt-only", "targets": ["hosted/gpt-4o"]},
        {"name": "big", "targets": ["vllm/llama-70b"]},
    ],
}


def router(**policy: object) -> Router:
    return Router(Settings.model_validate({**BASE, "policy": policy}))


def targets(decision) -> list[str]:
    return [str(t) for t in decision.targets]


def test_default_sends_internal_data_to_the_first_target() -> None:
    decision = router().decide(RequestFacts("assistant"))
    assert targets(decision) == ["hosted/gpt-4o-mini", "embedded/smollm2-135m"]
    assert decision.rule == "default" and decision.data_class == "internal"


@pytest.mark.parametrize("data_class", ["confidential", "restricted"])
def test_confidential_and_restricted_never_get_an_external_target(data_class: str) -> None:
    decision = router().decide(RequestFacts("assistant", data_class=data_class))
    assert targets(decision) == ["embedded/smollm2-135m"]
    assert decision.rule == "sovereignty" and data_class in decision.reason
    assert [(str(t), why) for t, why in decision.excluded] == [("hosted/gpt-4o-mini", "external zone not allowed")]


def test_a_route_rule_cannot_send_restricted_data_outside() -> None:
    r = router(
        rules=[{"name": "prefer-gpt", "when": {"models": ["assistant"]}, "action": "route", "target": "hosted/gpt-4o"}]
    )
    assert targets(r.decide(RequestFacts("assistant"))) == [
        "hosted/gpt-4o",
        "hosted/gpt-4o-mini",
        "embedded/smollm2-135m",
    ]
    decision = r.decide(RequestFacts("assistant", data_class="restricted"))
    assert targets(decision) == ["embedded/smollm2-135m"] and decision.rule == "prefer-gpt"


def test_model_without_local_target_is_denied_for_confidential_data() -> None:
    with pytest.raises(PolicyDenied) as caught:
        router().decide(RequestFacts("gpt-only", data_class="confidential"))
    assert caught.value.status == 403 and "only local targets" in caught.value.message


def test_require_local_falls_back_to_the_local_model() -> None:
    r = router(
        local_model="smollm2-135m",
        rules=[{"name": "project-x-local", "when": {"projects": ["x"]}, "action": "require_local"}],
    )
    assert targets(r.decide(RequestFacts("gpt-only", project="x"))) == ["embedded/smollm2-135m"]
    assert targets(r.decide(RequestFacts("gpt-only", project="y"))) == ["hosted/gpt-4o"]


def test_forbid_external_keeps_local_upstreams() -> None:
    r = router(rules=[{"name": "no-external", "when": {"data_classes": ["public"]}, "action": "forbid_external"}])
    assert targets(r.decide(RequestFacts("big", data_class="public"))) == ["vllm/llama-70b"]
    with pytest.raises(PolicyDenied):
        r.decide(RequestFacts("gpt-only", data_class="public"))


def test_rules_match_on_prompt_size_and_first_match_wins() -> None:
    r = router(
        rules=[
            {"name": "huge", "when": {"min_prompt_chars": 10_000}, "action": "route", "target": "vllm/llama-70b"},
            {"name": "catch-all", "action": "deny", "reason": "not allowed today"},
        ]
    )
    assert r.decide(RequestFacts("assistant", prompt_chars=20_000)).rule == "huge"
    with pytest.raises(PolicyDenied) as caught:
        r.decide(RequestFacts("assistant", prompt_chars=10))
    assert "catch-all" in caught.value.message and "not allowed today" in caught.value.message


def test_default_data_class_is_configurable() -> None:
    decision = router(default_data_class="confidential").decide(RequestFacts("assistant"))
    assert targets(decision) == ["embedded/smollm2-135m"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"policy": {"external_data_classes": ["public", "restricted"]}}, "never goes to an external zone"),
        ({"routes": [{"name": "x", "targets": ["nowhere/m"]}]}, "no provider named 'nowhere'"),
        ({"routes": [{"name": "x", "targets": ["embedded/other"]}]}, "no embedded model named 'other'"),
        ({"routes": [{"name": "smollm2-135m", "targets": ["hosted/a"]}]}, "used twice"),
        ({"providers": [{"name": "embedded", "base_url": "http://x", "zone": "local"}]}, "built-in provider"),
        (
            {
                "providers": [
                    {"name": "p", "base_url": "http://x", "zone": "local", "headers": {"Authorization": "Bearer sk-1"}}
                ]
            },
            "use api_key_env",
        ),
        ({"policy": {"rules": [{"name": "r", "action": "route"}]}}, "'target' is required"),
    ],
)
def test_invalid_routing_config_is_refused(change: dict, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({**BASE, **change})
    assert message in str(caught.value)
