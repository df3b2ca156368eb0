"""What leaves and what comes back: a message's name is scanned like its content, and an external model's answer
may be checked for personal data the request did not carry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from enclave.assembly import build_gateway
from enclave.config import Settings
from enclave.engines.base import ChatMessage, GenerationRequest
from enclave.errors import AnswerBlocked, EnclaveError
from enclave.gateway import InferenceCall
from enclave.guard.texts import texts_of, with_texts
from tests.audits import last_audit
from tests.fake_upstream import LEAK, FakeUpstream, fake_upstream

ASKED = "Please confirm the order for Jane Roe (jane.roe@example.org)."


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
            "routes": [
                {"name": "assistant", "targets": ["hosted/echo.out", "inside/echo.in"]},
                {"name": "leaky", "targets": ["hosted/leak"]},
                {"name": "leaky-inside", "targets": ["inside/leak.in"]},
            ],
            "guard": guard,
        }
    )


@dataclass
class Outcome:
    text: str
    headers: dict[str, str]
    error: EnclaveError | None


def ask(settings: Settings, model: str, *messages: ChatMessage, stream: bool = False) -> Outcome:
    async def run() -> Outcome:
        gateway = await build_gateway(settings)
        try:
            request = GenerationRequest(messages=messages, stream=stream)
            answer = await gateway.infer(InferenceCall(model, request, "chat"))
            pieces: list[str] = []
            try:
                async for delta in answer:
                    pieces.append(delta.text)
            except EnclaveError as exc:
                return Outcome("".join(pieces), answer.headers, exc)
            return Outcome("".join(pieces), answer.headers, None)
        finally:
            await gateway.close()

    return asyncio.run(run())


# --- a message's name -----------------------------------------------------------------------------------------


def test_a_messages_name_is_one_of_the_texts_and_is_written_back_as_a_name() -> None:
    request = GenerationRequest(messages=(ChatMessage("user", "Hi", name="Jane_Roe"), ChatMessage("user", "Yo")))
    texts = texts_of(request)
    assert texts[-1] == "Jane Roe"  # read as the words it spells
    assert with_texts(request, texts) is request  # nothing replaced: the very same request
    renamed = with_texts(request, ["Hi", "Yo", "<PERSON_1>"])
    assert renamed.messages is not None and renamed.messages[0].name == "PERSON_1"  # no <, > or spaces there
    assert with_texts(request, ["Hi", "Yo", "Dear <PERSON_1> Smith"]).messages[0].name == "Dear_PERSON_1_Smith"  # type: ignore[index]


def test_a_name_in_the_name_field_is_pseudonymized_like_content(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path, action="pseudonymize")
    outcome = ask(settings, "assistant", ChatMessage("user", "Jane Roe asks: is my order on its way?", name="Jane_Roe"))
    sent = upstream.last("echo.out")["messages"][-1]
    assert sent == {"role": "user", "content": "<PERSON_1> asks: is my order on its way?", "name": "PERSON_1"}
    assert outcome.text == "Jane Roe asks: is my order on its way?"
    assert outcome.headers["x-enclave-guard"] == "PERSON=2"


def test_a_name_in_the_name_field_alone_keeps_the_request_inside(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path)  # keep_local, the default
    outcome = ask(settings, "assistant", ChatMessage("user", "Is my order on its way?", name="Jane_Roe"))
    assert outcome.headers["x-enclave-route"] == "inside/echo.in"
    assert outcome.headers["x-enclave-guard"] == "PERSON=1"
    assert upstream.last("echo.in")["messages"][-1]["name"] == "Jane_Roe"  # inside: as written


# --- answers from external targets ----------------------------------------------------------------------------


def test_answers_are_not_read_by_default(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path, action="allow")
    outcome = ask(settings, "leaky", ChatMessage("user", ASKED))
    assert outcome.error is None and outcome.text == ASKED + LEAK
    assert "x-enclave-guard-answer" not in outcome.headers
    assert "guard_answer" not in last_audit(settings)


@pytest.mark.parametrize("stream", [False, True])
def test_flag_counts_only_what_the_request_did_not_carry(upstream: FakeUpstream, tmp_path: Path, stream: bool) -> None:
    settings = settings_for(upstream, tmp_path, action="allow", answers="flag")
    outcome = ask(settings, "leaky", ChatMessage("user", ASKED), stream=stream)
    assert outcome.error is None and outcome.text == ASKED + LEAK  # flagged, delivered
    # Jane Roe and her address were in the request: only Anna Kowalska and hers are new.
    audit = last_audit(settings)
    assert audit["guard_answer"] == {"EMAIL_ADDRESS": 1, "PERSON": 1}
    assert "Kowalska" not in json.dumps(audit) and "firma.pl" not in json.dumps(audit)
    if not stream:
        assert outcome.headers["x-enclave-guard-answer"] == "EMAIL_ADDRESS=1, PERSON=1"


def test_block_refuses_a_whole_answer_with_new_personal_data(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path, action="allow", answers="block")
    outcome = ask(settings, "leaky", ChatMessage("user", ASKED))
    assert isinstance(outcome.error, AnswerBlocked)
    assert outcome.error.status == 400 and outcome.error.code == "sensitive_answer_blocked"
    assert "EMAIL_ADDRESS, PERSON" in outcome.error.message and "Kowalska" not in outcome.error.message
    assert last_audit(settings)["guard_answer"] == {"EMAIL_ADDRESS": 1, "PERSON": 1}
    # An answer that only repeats what was asked passes.
    echoed = ask(settings, "assistant", ChatMessage("user", ASKED))
    assert echoed.error is None and echoed.text == ASKED


def test_block_only_flags_a_stream(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path, action="allow", answers="block")
    outcome = ask(settings, "leaky", ChatMessage("user", ASKED), stream=True)
    assert outcome.error is None and outcome.text == ASKED + LEAK
    assert last_audit(settings)["guard_answer"] == {"EMAIL_ADDRESS": 1, "PERSON": 1}


def test_answers_from_local_targets_are_not_read(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path, action="allow", answers="block")
    outcome = ask(settings, "leaky-inside", ChatMessage("user", ASKED))
    assert outcome.error is None and outcome.text == ASKED + LEAK
    assert "guard_answer" not in last_audit(settings)


def test_a_pseudonymized_request_compares_the_restored_answer(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path, action="pseudonymize", answers="flag")
    outcome = ask(settings, "leaky", ChatMessage("user", ASKED))
    assert "Jane Roe" not in upstream.last("leak")["messages"][-1]["content"]
    assert outcome.text == ASKED + LEAK  # placeholders restored, then read: only the new values count
    assert last_audit(settings)["guard_answer"] == {"EMAIL_ADDRESS": 1, "PERSON": 1}
