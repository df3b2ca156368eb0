"""The enclave command, run as a user runs it: in a subprocess, reading stdin, printing to a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from tests.servers import enclave, write_config


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["serve"],
        ["chat"],
        ["models"],
        ["models", "list"],
        ["models", "show"],
        ["route"],
        ["route", "list"],
        ["route", "explain"],
        ["guard"],
        ["guard", "scan"],
        ["keys"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "revoke"],
        ["projects"],
        ["projects", "create"],
        ["projects", "update"],
        ["projects", "list"],
        ["usage"],
        ["audit"],
        ["audit", "verify"],
        ["audit", "list"],
        ["audit", "keygen"],
        ["audit", "migrate"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = enclave(*args, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_models_list_shows_size_quantization_architecture_context(tmp_path: Path) -> None:
    result = enclave("models", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for expected in ("smollm2-135m", "llama", "Q4_1", "135M", "92.1 MB", "4096"):
        assert expected in result.stdout, (expected, result.stdout)
    # The default embedding model is served beside the chat model, and listed with its type.
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 2}
    assert "chat" in rows["smollm2-135m"] and "embedding" in rows["all-minilm-l6-v2"], result.stdout


def test_models_show_by_alias_as_json(tmp_path: Path) -> None:
    config = write_config(tmp_path, context=2048)
    result = enclave("models", "show", "default", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["name"] == "smollm2-135m" and info["aliases"] == ["default"] and info["type"] == "chat"
    assert info["architecture"] == "llama" and info["quantization"] == "Q4_1"
    assert info["context"] == 2048 and info["context_train"] == 8192
    assert info["parameters"] > 100_000_000 and info["size_bytes"] > 90_000_000


def test_models_show_unknown_name_fails_clearly(tmp_path: Path) -> None:
    result = enclave("models", "show", "gpt-17", cwd=tmp_path)
    assert result.returncode == 1
    assert "no model named 'gpt-17'" in result.stderr


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"models": [{"name": "m", "path": "x.gguf", "contxt": 512}]}, "models[0].contxt: unknown key"),
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"models": [{"name": "m", "path": "x.gguf", "parallel": 0}]}, "models[0].parallel"),
        ({"models": [{"name": "m"}]}, "needs 'path' or 'repo'"),
        ({"models": [{"name": "m", "repo": "org/repo"}]}, "'repo' and 'file' go together"),
        ({"servr": {}}, "servr: unknown key"),
    ],
)
def test_invalid_config_names_the_bad_key_and_exits_2(tmp_path: Path, config: dict, named: str) -> None:
    path = tmp_path / "enclave.yaml"
    path.write_text(yaml.safe_dump(config))
    for command in (["serve"], ["models", "list"], ["chat"]):
        result = enclave(*command, "--config", str(path))
        # serve: every start-up failure is one line and status 1 (tests/test_serve_lifecycle.py)
        assert result.returncode == (1 if command == ["serve"] else 2), (command, result.stdout, result.stderr)
        assert named in " ".join(result.stderr.split()), result.stderr
        assert "Traceback" not in result.stderr


def test_broken_yaml_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "enclave.yaml"
    path.write_text("models: [name: {")
    result = enclave("models", "list", "--config", str(path))
    assert result.returncode == 2 and "not valid YAML" in result.stderr


def test_config_is_found_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "enclave.yaml").write_text(yaml.safe_dump({"models": [{"name": "tiny", "path": "missing.gguf"}]}))
    result = enclave("models", "show", "tiny", cwd=tmp_path)
    assert result.returncode == 1
    assert "file not found" in result.stderr and str(tmp_path / "missing.gguf") in result.stderr


def test_huggingface_model_not_cached_offline_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "enclave.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path),
                "models": [
                    {"name": "qwen", "repo": "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "file": "qwen2.5-0.5b-q4_0.gguf"}
                ],
            }
        )
    )
    result = enclave("models", "show", "qwen", "--config", str(config), env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "is not in the cache" in message and "HF_HUB_OFFLINE" in message


def test_serve_refuses_to_listen_beyond_loopback_without_auth(tmp_path: Path) -> None:
    (tmp_path / "enclave.yaml").write_text(f"auth: {{mode: 'off'}}\ndata_dir: {tmp_path}\n")
    result = enclave("serve", "--host", "0.0.0.0", cwd=tmp_path)
    assert result.returncode == 1
    assert "refusing to listen on 0.0.0.0" in " ".join(result.stderr.split())


def test_auth_turns_itself_on_beyond_loopback() -> None:
    from enclave.config import AuthConfig, Settings
    from enclave.controls import requires_auth

    auto = Settings()
    assert not requires_auth(auto, "127.0.0.1") and not requires_auth(auto, "::1")
    assert requires_auth(auto, "0.0.0.0") and requires_auth(auto, "10.1.2.3") and requires_auth(auto, "example.org")
    assert requires_auth(Settings(auth=AuthConfig(mode="on")), "127.0.0.1")


CHAT_SCRIPT = "Say hello to Ada.\nNow say goodbye.\n/exit\nthis line is never read\n"


def _reference_answers(server: str) -> list[str]:
    history: list[dict[str, str]] = []
    answers = []
    for line in CHAT_SCRIPT.splitlines()[:2]:
        history.append({"role": "user", "content": line})
        response = httpx.post(
            f"{server}/v1/chat/completions",
            timeout=60,
            json={"model": "smollm2-135m", "messages": history, "temperature": 0, "max_tokens": 24},
        )
        answers.append(response.json()["choices"][0]["message"]["content"])
        history.append({"role": "assistant", "content": answers[-1]})
    return answers


def test_chat_in_process_through_stdin_keeps_the_conversation(server: str, tmp_path: Path) -> None:
    result = enclave("chat", "--temperature", "0", "--max-tokens", "24", stdin=CHAT_SCRIPT, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [a for a in _reference_answers(server)]


def test_chat_against_a_running_server(server: str, tmp_path: Path) -> None:
    result = enclave(
        "chat", "--url", server, "--temperature", "0", "--max-tokens", "24", stdin=CHAT_SCRIPT, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == _reference_answers(server)


def test_chat_reports_errors_and_goes_on(server: str, tmp_path: Path) -> None:
    result = enclave("chat", "--url", server, "--model", "gpt-17", stdin="hello\n", cwd=tmp_path)
    assert result.returncode == 0
    assert "404" in result.stderr and "gpt-17" in result.stderr
    from tests.servers import free_port

    dead = enclave("chat", "--url", f"http://127.0.0.1:{free_port()}", stdin="hello\n", cwd=tmp_path)
    assert dead.returncode == 0 and "cannot reach" in dead.stderr


def test_route_explain_names_the_rule_targets_and_exclusions(tmp_path: Path) -> None:
    config = tmp_path / "enclave.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "providers": [{"name": "hosted", "base_url": "http://127.0.0.1:9/v1", "zone": "external"}],
                "routes": [{"name": "assistant", "targets": ["hosted/gpt-4o-mini", "embedded/smollm2-135m"]}],
                "policy": {"rules": [{"name": "no-legal", "when": {"projects": ["legal"]}, "action": "deny"}]},
            }
        )
    )
    restricted = enclave("route", "explain", "--model", "assistant", "--data-class", "restricted", "-c", str(config))
    assert restricted.returncode == 0, restricted.stderr
    lines = restricted.stdout.splitlines()
    assert "rule        sovereignty" in lines
    assert "targets     embedded/smollm2-135m (local)" in lines
    assert "excluded    hosted/gpt-4o-mini (external): external zone not allowed" in lines
    public = enclave("route", "explain", "--model", "assistant", "-c", str(config))
    assert "targets     hosted/gpt-4o-mini (external) -> embedded/smollm2-135m (local)" in public.stdout
    denied = enclave("route", "explain", "--model", "assistant", "--project", "legal", "-c", str(config))
    assert denied.returncode == 1 and "no-legal" in denied.stdout and "403" in denied.stdout
    listed = enclave("route", "list", "-c", str(config))
    assert "hosted/gpt-4o-mini (external), embedded/smollm2-135m (local)" in listed.stdout


def test_guard_scan_reads_stdin_and_files_and_masks_values(tmp_path: Path) -> None:
    text = "Refund card 4111 1111 1111 1111 for bob@example.org\n"
    result = enclave("guard", "scan", "-", stdin=text, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "CREDIT_CARD" in result.stdout and "EMAIL_ADDRESS" in result.stdout
    assert "4111 1111 1111 1111" not in result.stdout and "bob@example.org" not in result.stdout
    (tmp_path / "note.txt").write_text(text)
    as_json = json.loads(enclave("guard", "scan", str(tmp_path / "note.txt"), "--json", cwd=tmp_path).stdout)
    assert as_json["counts"] == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1} and as_json["data_class"] == "restricted"
    assert "4111" not in json.dumps(as_json)
    assert enclave("guard", "scan", str(tmp_path / "missing.txt"), cwd=tmp_path).returncode == 1
