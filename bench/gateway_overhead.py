"""Gateway overhead: enclave vs the LiteLLM proxy in front of the same instant mock upstream, in one run.

wrk sends the same small non-streaming chat completion to: the mock directly, enclave routing to it, and
LiteLLM's proxy routing to it. Added latency = the gateway's p50/p99 minus the direct p50/p99 at
concurrency 1; throughput = requests/s at concurrency 8.

enclave runs with every control on: API key authentication, a project with per-minute request and token limits
and a monthly budget (reserved and settled per request), the privacy guard, the usage ledger with per-token
prices and the hash-chained audit log (SQLite, batched writes). With Redis reachable on 127.0.0.1:6379 a second
enclave row keeps the limits in Redis, as several replicas would.

    apt-get install wrk
    python3 -m venv bench/.work/litellm-venv && bench/.work/litellm-venv/bin/pip install 'litellm[proxy]'
    .venv/bin/python bench/gateway_overhead.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE.parent))  # the script's own folder is on the path already
from tests.servers import free_port  # noqa: E402

from processes import started  # noqa: E402


def process(
    name: str, command: list[str], ready_url: str, env: dict[str, str] | None = None, key: str = ""
) -> contextlib.AbstractContextManager[None]:
    """A peer that is ready once it answers a chat completion with ``key`` (or the benchmark's key)."""
    hello = {"model": "bench", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key or BENCH_KEY}"}
    return started(
        name, command, lambda: httpx.post(ready_url, json=hello, headers=headers, timeout=5).status_code == 200, env
    )


# The key wrk sends (bench/post.lua): LiteLLM's proxy refuses to start without a master key.
BENCH_KEY = "sk-bench-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c1e"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, connections: int, seconds: int, key: str = BENCH_KEY) -> dict[str, float]:
    threads = min(connections, 2)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(HERE / "post.lua"),
            f"{url}/v1/chat/completions",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BENCH_BEARER": key},
    ).stdout
    latency = {p: float(v) * _UNITS[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": latency["50"],
        "p99": latency["99"],
        "errors": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def redis_reachable() -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", 6379)) == 0


def enclave_with_controls(mock: str, limits: str) -> tuple[Path, str]:
    """A fresh store and configuration with every control on, and a developer key of a limited project."""
    return controlled_config(
        WORK / f"gateway-bench-{limits}",
        "models: []\n"
        f"providers:\n  - {{name: mock, base_url: '{mock}/v1', zone: external, api_key_env: BENCH_KEY}}\n"
        "routes:\n  - {name: bench, targets: [mock/gpt-bench]}\n"
        f"limits: {{backend: {limits}, redis_url: 'redis://127.0.0.1:6379/14'}}\n"
        "prices: {tokens: {mock/gpt-bench: {input: 0.15, output: 0.60}}}\n",
    )


def controlled_config(data: Path, settings: str) -> tuple[Path, str]:
    """A fresh data folder ``data`` whose enclave.yaml has ``settings`` (YAML lines) and keys required, a project
    with per-minute request and token limits and a monthly budget, and a developer key of that project."""
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    config = data / "enclave.yaml"
    config.write_text(f"data_dir: {data}\nauth: {{mode: 'on'}}\n{settings}")
    cli = [sys.executable, "-m", "enclave.cli.main"]
    subprocess.run(
        [
            *cli,
            "projects",
            "create",
            "bench",
            "--rpm",
            "10000000",
            "--tpm",
            "1000000000",
            "--budget",
            "1000000",
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
    )
    key = subprocess.run(
        [
            *cli,
            "keys",
            "create",
            "--name",
            "bench",
            "--role",
            "developer",
            "--project",
            "bench",
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return config, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    litellm = WORK / "litellm-venv/bin/litellm"
    WORK.mkdir(exist_ok=True)
    mock_port, litellm_port = free_port(), free_port()
    mock = f"http://127.0.0.1:{mock_port}"
    enclaves = [("enclave", "memory")]
    if redis_reachable():
        enclaves.append(("enclave (limits in Redis)", "redis"))
    litellm_config = WORK / "litellm-bench.yaml"
    litellm_config.write_text(
        "model_list:\n  - model_name: bench\n    litellm_params:\n      model: openai/gpt-bench\n"
        f"      api_base: {mock}/v1\n      api_key: sk-mock\n"
    )
    peers: list[tuple[str, str, list[str], dict[str, str], str]] = []
    for name, backend in enclaves:
        config, key = enclave_with_controls(mock, backend)
        port = free_port()
        peers.append(
            (
                name,
                f"http://127.0.0.1:{port}",
                [
                    sys.executable,
                    "-m",
                    "enclave.cli.main",
                    "serve",
                    "--config",
                    str(config),
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                {"BENCH_KEY": "sk-mock"},
                key,
            )
        )
    if litellm.exists():
        peers.append(
            (
                "litellm-proxy",
                f"http://127.0.0.1:{litellm_port}",
                [str(litellm), "--config", str(litellm_config), "--port", str(litellm_port)],
                # Keep LiteLLM offline: its price map and telemetry otherwise come from the internet.
                {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "LITELLM_MASTER_KEY": BENCH_KEY},
                BENCH_KEY,
            )
        )
    else:
        print(f"LiteLLM not installed at {litellm}: measuring enclave only", file=sys.stderr)
    results: dict[str, dict[str, dict[str, float]]] = {}
    mock_command = [sys.executable, str(HERE / "mock_upstream.py"), "--port", str(mock_port)]
    with process("mock", mock_command, f"{mock}/v1/chat/completions"):
        results["direct (mock)"] = {"c1": wrk(mock, 1, args.seconds), "c8": wrk(mock, 8, args.seconds)}
        for name, url, command, env, key in peers:
            with process(name, command, f"{url}/v1/chat/completions", env, key):
                wrk(url, 8, 2, key)  # warm-up
                results[name] = {"c1": wrk(url, 1, args.seconds, key), "c8": wrk(url, 8, args.seconds, key)}
    direct = results["direct (mock)"]["c1"]
    print(f"\nnon-streaming chat completion through each gateway to an instant mock; wrk {args.seconds} s per run\n")
    print("| path | p50 ms (c=1) | p99 ms (c=1) | added p50 ms | added p99 ms | req/s (c=8) | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        added = "–" if name.startswith("direct") else f"{r['c1']['p50'] - direct['p50']:.2f}"
        added99 = "–" if name.startswith("direct") else f"{r['c1']['p99'] - direct['p99']:.2f}"
        print(
            f"| {name} | {r['c1']['p50']:.2f} | {r['c1']['p99']:.2f} | {added} | {added99} | "
            f"{r['c8']['rps']:.0f} | {int(r['c1']['errors'] + r['c8']['errors'])} |"
        )
    if "litellm-proxy" in results:
        for name, _ in enclaves:
            ratio = results[name]["c8"]["rps"] / results["litellm-proxy"]["c8"]["rps"]
            print(f"\n{name} / LiteLLM proxy requests/s at c=8: {ratio:.1f}x")


if __name__ == "__main__":
    main()
