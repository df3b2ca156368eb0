"""Per-type guard actions: an organisation may go out pseudonymized while a person's name stays inside, per project."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from enclave.assembly import build_gateway
from enclave.cli.main import app as cli
from enclave.config import Settings, load_settings
from enclave.engines.base import ChatMessage, GenerationRequest
from enclave.errors import ConfigError, GuardBlocked
from enclave.gateway import InferenceCall
from enclave.guard.actions import ActionTable
from enclave.guard.findings import GuardReport
from tests.audits import last_audit
from tests.fake_upstream import FakeUpstream, fake_upstream

ORG_ONLY = "Draft a note to Siemens AG about the delayed order."
WITH_PERSON = "Draft a note to Anna Kowalska at Siemens AG about the delayed order."
ACTIONS = {"ORGANIZATION": "pseudonymize", "PERSON": "keep_local", "US_SSN": "block"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as fake:
        yield fake


def settings_for(upstream: FakeUpstream, directory: Path, **guard: Any) -> Settings:
    provider = {"base_url": upstream.url, "retries": 0}
    return Settings.model_validate(
        {
            "data_dir": str(directory),
            "models": [],
            "providers": [
                {"name": "hosted", "zone": "external", **provider},
                {"name": "inside", "zone": "local", **provider},
            ],
            # Both answer as "echo"; the suffix tells what reached which zone.
            "routes": [{"name": "assistant", "targets": ["hosted/echo.out", "inside/echo.in"]}],
            "guard": {
                "entities": {"types": ["PERSON", "LOCATION", "ADDRESS", "ORGANIZATION"]},
                "actions": ACTIONS,
                **guard,
            },
        }
    )


def ask(settings: Settings, text: str, project: str | None = None) -> tuple[str, dict[str, str]]:
    async def run() -> tuple[str, dict[str, str]]:
        gateway = await build_gateway(settings)
        try:
            request = GenerationRequest(messages=(ChatMessage("user", text),))
            answer = await gateway.infer(InferenceCall("assistant", request, "chat", project=project))
            return "".join([d.text async for d in answer]), answer.headers
        finally:
            await gateway.close()

    return asyncio.run(run())


def test_an_organisation_goes_out_pseudonymized_while_a_person_stays_inside(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    settings = settings_for(upstream, tmp_path)
    text, headers = ask(settings, ORG_ONLY)
    assert headers["x-enclave-route"] == "hosted/echo.out"
    assert (
        upstream.last("echo.out")["messages"][-1]["content"]
        == "Draft a note to <ORGANIZATION_1> about the delayed order."
    )
    assert text == ORG_ONLY  # restored in the answer
    assert headers["x-enclave-guard-action"] == "ORGANIZATION=pseudonymize"

    sent = len(upstream.received)
    text, headers = ask(settings, WITH_PERSON)
    assert headers["x-enclave-route"] == "inside/echo.in" and headers["x-enclave-zone"] == "local"
    assert headers["x-enclave-guard-action"] == "PERSON=keep_local"  # the strictest decides
    assert "Anna Kowalska" not in json.dumps(
        [r.body for r in upstream.received[sent:] if r.body["model"] == "echo.out"]
    )
    assert upstream.last("echo.in")["messages"][-1]["content"] == WITH_PERSON  # inside: the text as written
    assert text == WITH_PERSON
    audit = last_audit(settings)
    assert audit["guard_action"] == {"type": "PERSON", "action": "keep_local"}
    assert audit["guard"] == {"ORGANIZATION": 1, "PERSON": 1}
    assert "Kowalska" not in json.dumps(audit)


def test_the_strictest_action_wins_and_a_block_names_only_types(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path)
    sent = len(upstream.received)
    with pytest.raises(GuardBlocked) as caught:
        ask(settings, f"{WITH_PERSON} Her SSN is 536-90-4399.")
    assert "US_SSN" in caught.value.message and "PERSON" not in caught.value.message
    assert "536-90-4399" not in caught.value.message and "Kowalska" not in caught.value.message
    assert len(upstream.received) == sent  # nothing left


def test_a_projects_own_action_beats_the_global_one(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path, projects={"research": {"actions": {"PERSON": "pseudonymize"}}})
    text, headers = ask(settings, WITH_PERSON, project="research")
    assert headers["x-enclave-route"] == "hosted/echo.out"
    assert upstream.last("echo.out")["messages"][-1]["content"] == (
        "Draft a note to <PERSON_1> at <ORGANIZATION_1> about the delayed order."
    )
    assert text == WITH_PERSON
    # Another project (or none) still keeps the person inside.
    _, headers = ask(settings, WITH_PERSON, project="sales")
    assert headers["x-enclave-route"] == "inside/echo.in"


def test_types_without_an_action_take_the_default_and_allow_sends_them_as_they_are() -> None:
    table = ActionTable(
        Settings.model_validate(
            {"guard": {"action": "pseudonymize", "actions": {"IP_ADDRESS": "allow", "PERSON": "keep_local"}}}
        ).guard
    )
    verdict = table.verdict(GuardReport(counts={"EMAIL_ADDRESS": 1, "IP_ADDRESS": 2}), None)
    assert (verdict.action, verdict.deciding, verdict.masked) == ("pseudonymize", "EMAIL_ADDRESS", {"EMAIL_ADDRESS"})
    assert verdict.data_class is None  # nothing kept local: the class is not raised
    kept = table.verdict(GuardReport(counts={"PERSON": 1, "CREDIT_CARD": 1}), None)
    assert (kept.describe(), kept.data_class) == ("PERSON=keep_local", "confidential")


def test_a_named_keep_local_keeps_a_type_inside_whatever_its_class() -> None:
    guard = {"entity_classes": {"LOCATION": "internal"}, "actions": {"LOCATION": "keep_local"}}
    table = ActionTable(Settings.model_validate({"guard": guard}).guard)
    assert table.verdict(GuardReport(counts={"LOCATION": 1}), None).data_class == "confidential"


def test_a_guard_that_failed_keeps_the_request_inside_whatever_the_actions() -> None:
    table = ActionTable(Settings.model_validate({"guard": {"action": "allow"}}).guard)
    verdict = table.verdict(GuardReport((), "restricted", {"GUARD_ERROR": 1}), None)
    assert (verdict.action, verdict.data_class) == ("keep_local", "restricted")


@pytest.mark.parametrize(
    ("guard", "key"),
    [
        ({"actions": {"PERSN": "block"}}, "actions"),
        ({"projects": {"legal": {"actions": {"ORGANISATION": "pseudonymize"}}}}, "projects.legal.actions"),
    ],
)
def test_an_unknown_finding_type_is_a_config_error_naming_the_key(
    tmp_path: Path, guard: dict[str, Any], key: str
) -> None:
    config = tmp_path / "enclave.yaml"
    config.write_text(json.dumps({"guard": guard}))
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert f"guard: Value error, {key}: unknown finding type" in str(caught.value)


def test_an_action_that_is_not_one_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "enclave.yaml"
    config.write_text(json.dumps({"guard": {"actions": {"PERSON": "hide"}}}))
    with pytest.raises(ConfigError, match=r"guard\.actions\.PERSON"):
        load_settings(config)


def test_custom_patterns_can_have_their_own_action() -> None:
    guard = {
        "custom_patterns": [{"name": "EMPLOYEE_ID", "pattern": r"\bEMP-\d{6}\b"}],
        "actions": {"EMPLOYEE_ID": "pseudonymize"},
    }
    table = ActionTable(Settings.model_validate({"guard": guard}).guard)
    assert table.verdict(GuardReport(counts={"EMPLOYEE_ID": 1}), None).masked == {"EMPLOYEE_ID"}


def test_route_explain_shows_the_deciding_type(tmp_path: Path) -> None:
    config = tmp_path / "enclave.yaml"
    config.write_text(
        json.dumps(
            {
                "providers": [{"name": "hosted", "base_url": "http://127.0.0.1:9/v1", "zone": "external"}],
                "routes": [{"name": "assistant", "targets": ["hosted/gpt", "embedded/smollm2-135m"]}],
                "guard": {"actions": ACTIONS, "projects": {"research": {"actions": {"PERSON": "pseudonymize"}}}},
            }
        )
    )
    args = ["route", "explain", "--model", "assistant", "--config", str(config), "--found", "PERSON,ORGANIZATION"]
    local = CliRunner().invoke(cli, args)
    assert local.exit_code == 0, local.output
    assert "guard       PERSON=keep_local" in local.output and "-> " not in local.output.split("targets")[1]
    assert "embedded/smollm2-135m (local)" in local.output
    research = CliRunner().invoke(cli, [*args, "--project", "research"])
    assert "guard       ORGANIZATION=pseudonymize" in research.output and "hosted/gpt (external)" in research.output
    blocked = CliRunner().invoke(cli, [*args[:-1], "US_SSN,PERSON"])
    assert blocked.exit_code == 1 and "US_SSN" in blocked.output
