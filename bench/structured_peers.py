"""Structured outputs and tools: enclave vs llama.cpp's ``llama-server --jinja``, validity and speed in one run.

Both servers run the same GGUF (the embedded SmolLM2-135M), the same llama.cpp, the same threads, parallel
sequences and context per sequence, on loopback, and get the same requests through the official ``openai``
SDK: ``response_format: json_schema`` cases (strict and not) and function tools under ``tool_choice``
``required``, a named function and ``auto``, temperature 0, ``max_tokens`` 300. The schemas and tools are
qa/test_structured_variety.py's (Pydantic models as the SDK and ``model_json_schema`` write them, OpenAI's and
json-schema.org's examples, LangChain's and instructor's tools); two of the schemas hold keywords enclave
refuses, to show what each server does with them.

Each answer is judged as a client would: refused (HTTP 4xx, its message), error (5xx, timeout), ``length``
(cut by ``max_tokens``: incomplete, counted apart, not a failure of the grammar; the answer's end is shown),
valid or invalid. Valid JSON parses, validates against the schema (jsonschema, formats checked strictly) and
into the Pydantic model where there is one; valid calls name offered tools (the named one, once, where
named), their arguments parse and validate against the tool's parameters, and ``finish_reason`` is
``tool_calls``. Under ``auto`` a text answer is valid too (marked "text").

First every case once, one request at a time, the two servers taking turns per case: the per-case table, with
each request's tokens/s (completion tokens over its wall time, prompt included) and prompt tokens (the
servers render tools differently). Then ``--rounds`` rounds over the cases both servers answered, the JSON
cases and the tool cases apart, all at once at 1 and at 8 concurrent requests, the servers alternating first:
aggregate tokens/s and the ratio enclave/llama-server, taken per round (the machine's speed drifts between
rounds), medians printed. The answers of the 8-concurrent runs are judged too (validity in a batch). A third
set is the reference: eight of the JSON prompts without a format, 128 tokens each whatever the model says
(``ignore_eos``), so the two servers do exactly the same work; the ratio there is the engines' own, and the
difference to it what the constraints (and each server's different answers) cost.

One decode thread by default: with two on a 2-core machine shared with other work, llama.cpp's threads spin at
its barriers and decoding slows several-fold, whichever server it is.

    bench/build_peers.sh                      # once: builds llama-server into bench/.work
    .venv/bin/python bench/structured_peers.py [--threads 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pydantic
from openai.types.chat import ChatCompletion

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
sys.path.insert(0, str(HERE.parent))  # the script's own folder is on the path already
from qa.test_structured_variety import SCHEMAS, TOOL_CASES, SchemaCase, ToolCase, problem  # noqa: E402
from tests.servers import free_port  # noqa: E402

from enclave.engines.catalog import default_model_path  # noqa: E402
from processes import started  # noqa: E402

MODEL = "bench"
MAX_TOKENS = 300
CONTEXT = 4096  # per sequence: enclave's ten-tool prompts take about 1,500 tokens
PARALLEL = 8
TIMEOUT = 180.0  # per request: a hang shows as an error, not as a stuck benchmark
PEERS = ("enclave", "llama-server")
KINDS = ("json_schema", "tools")
PLAIN = "unconstrained"  # the reference set of the aggregate runs
PLAIN_TOKENS = 128

# From qa/test_structured_variety.py: nested objects, arrays with minItems/maxItems, enum, nullable anyOf,
# Pydantic $defs/$ref (recursive too), pattern, formats, number bounds; the last two use keywords enclave refuses.
SCHEMA_IDS = (
    "customer", "customer_strict", "task_list_strict", "node_strict", "product", "event", "checkout_strict",
    "invoice", "openai_moderation", "openai_linked_list", "order", "zod_draft07", "numbers", "matrix",
    "top_level_array", "org_movie", "network", "org_product_unique_items", "if_then",
)  # fmt: skip
# Sent with ``strict: true`` (OpenAI's strict subset: every property required, no additional ones).
STRICT_IDS = frozenset(
    {"customer_strict", "task_list_strict", "node_strict", "checkout_strict", "openai_moderation",
     "openai_linked_list", "order", "zod_draft07", "numbers", "matrix"}
)  # fmt: skip
TOOL_IDS = (
    "langchain_weather", "langchain_flights_date_optional", "langchain_nested_list",
    "sdk_pydantic_strict_nested_enum", "instructor_pattern", "hand_strict_nullable", "ten_tools",
)  # fmt: skip
TOOL_CHOICES = ("required", "named", "auto")


@dataclass(frozen=True)
class Case:
    """One request's body (beyond model, temperature and max_tokens) and how its answer is judged."""

    id: str
    kind: str  # one of KINDS
    body: dict[str, Any]
    judge: Callable[[ChatCompletion], tuple[str, str]]


@dataclass(frozen=True)
class Outcome:
    verdict: str  # valid, invalid, length, refused, error
    detail: str
    tokens: int  # completion tokens
    prompt_tokens: int
    seconds: float

    @property
    def tok_s(self) -> float:
        return self.tokens / self.seconds if self.tokens else 0.0


def schema_case(case: SchemaCase) -> Case:
    spec: dict[str, Any] = {"name": case.id, "schema": case.schema}
    if case.id in STRICT_IDS:
        spec["strict"] = True
    messages = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": case.prompt}]
    label = case.id + (" (strict)" if case.id in STRICT_IDS else "")
    body = {"messages": messages, "response_format": {"type": "json_schema", "json_schema": spec}}
    return Case(label, "json_schema", body, lambda answer: judge_json(answer, case))


def judge_json(answer: ChatCompletion, case: SchemaCase) -> tuple[str, str]:
    choice = answer.choices[0]
    content = choice.message.content or ""
    if choice.finish_reason == "length":
        return "length", f"…{content[-40:]!r}"
    if choice.message.tool_calls or choice.finish_reason != "stop":
        return "invalid", f"finish_reason {choice.finish_reason}"
    try:
        value = json.loads(content)
    except json.JSONDecodeError as exc:
        return "invalid", f"not JSON ({exc.msg}): {content[:60]!r}"
    if (broken := problem(value, case.schema)) is not None:
        return "invalid", broken
    if case.model is not None:
        try:
            case.model.model_validate_json(content)
        except pydantic.ValidationError as exc:
            return "invalid", f"{case.model.__name__}: {exc.errors()[0]['msg']}"
    return "valid", ""


def tool_case(case: ToolCase, choice: str) -> Case:
    tool_choice: Any = {"type": "function", "function": {"name": case.name}} if choice == "named" else choice
    body = {"messages": [{"role": "user", "content": case.prompt}], "tools": case.tools, "tool_choice": tool_choice}
    return Case(f"{case.id} ({choice})", "tools", body, lambda answer: judge_calls(answer, case, choice))


def judge_calls(answer: ChatCompletion, case: ToolCase, choice: str) -> tuple[str, str]:
    reply = answer.choices[0]
    calls = [c.function for c in reply.message.tool_calls or () if c.type == "function"]
    if reply.finish_reason == "length":
        return "length", f"…{(reply.message.content or ''.join(c.arguments for c in calls))[-40:]!r}"
    if not calls:
        if choice == "auto" and reply.finish_reason == "stop":
            return "valid", "text"
        return "invalid", f"no call, finish_reason {reply.finish_reason}: {(reply.message.content or '')[:50]!r}"
    if reply.finish_reason != "tool_calls":
        return "invalid", f"calls with finish_reason {reply.finish_reason}"
    if choice == "named" and [c.name for c in calls] != [case.name]:
        return "invalid", f"named {case.name}, called {[c.name for c in calls]}"
    offered = {t["function"]["name"]: t["function"] for t in case.tools}
    for call in calls:
        if call.name not in offered:
            return "invalid", f"called {call.name!r}, not offered"
        try:
            arguments = json.loads(call.arguments)
        except json.JSONDecodeError as exc:
            return "invalid", f"{call.name} arguments not JSON ({exc.msg}): {call.arguments[:50]!r}"
        parameters = offered[call.name].get("parameters") or {"type": "object", "properties": {}}
        if (broken := problem(arguments, parameters)) is not None:
            return "invalid", f"{call.name} arguments {broken}"
    return "valid", " + ".join(c.name for c in calls)


def cases() -> list[Case]:
    by_id = {c.id: c for c in SCHEMAS}
    tools = {c.id: c for c in TOOL_CASES}
    return [schema_case(by_id[i]) for i in SCHEMA_IDS] + [
        tool_case(tools[i], choice) for i in TOOL_IDS for choice in TOOL_CHOICES
    ]


def unconstrained(schema_cases: list[Case]) -> list[Case]:
    """The reference for speed: the first eight JSON cases' prompts without a format, every answer exactly
    ``PLAIN_TOKENS`` long (end of sequence ignored), so both servers do the same work and their ratio is the
    engines' own, apart from any constraint."""
    body = {"max_tokens": PLAIN_TOKENS, "extra_body": {"ignore_eos": True}}
    return [
        Case(case.id, PLAIN, {"messages": case.body["messages"], **body}, lambda _: ("valid", ""))
        for case in schema_cases[:8]
    ]


async def ask(client: openai.AsyncOpenAI, case: Case) -> Outcome:
    started_at = time.perf_counter()
    request = {"model": MODEL, "temperature": 0, "max_tokens": MAX_TOKENS, **case.body}
    try:
        answer = await client.chat.completions.create(**request)
    except openai.APIStatusError as exc:
        seconds = time.perf_counter() - started_at
        message = exc.body.get("message", "") if isinstance(exc.body, dict) else str(exc.body)
        verdict = "refused" if exc.status_code < 500 else "error"
        return Outcome(verdict, f"{exc.status_code}: {message}", 0, 0, seconds)
    except (openai.APITimeoutError, openai.APIConnectionError) as exc:
        return Outcome("error", type(exc).__name__, 0, 0, time.perf_counter() - started_at)
    seconds = time.perf_counter() - started_at
    verdict, detail = case.judge(answer)
    tokens, prompt = (answer.usage.completion_tokens, answer.usage.prompt_tokens) if answer.usage else (0, 0)
    return Outcome(verdict, detail, tokens, prompt, seconds)


async def together(client: openai.AsyncOpenAI, batch: list[Case], concurrency: int) -> tuple[list[Outcome], float]:
    """Every case of ``batch``, ``concurrency`` at a time; the outcomes and the aggregate tokens/s."""
    gate = asyncio.Semaphore(concurrency)

    async def one(case: Case) -> Outcome:
        async with gate:
            return await ask(client, case)

    started_at = time.perf_counter()
    outcomes = await asyncio.gather(*(one(c) for c in batch))
    return list(outcomes), sum(o.tokens for o in outcomes) / (time.perf_counter() - started_at)


def commands(model: Path, threads: int, ports: dict[str, int]) -> dict[str, list[str]]:
    config = WORK / "enclave-structured.yaml"
    # Its own data folder: benchmark traffic stays out of the user's usage ledger and audit log.
    config.write_text(
        f"data_dir: {WORK / 'enclave-structured-data'}\n"
        f"models:\n  - name: {MODEL}\n"
        f"    path: {model}\n    context: {CONTEXT}\n    threads: {threads}\n    parallel: {PARALLEL}\n"
    )
    enclave = [sys.executable, "-m", "enclave.cli.main", "serve", "--config", str(config)]
    llama_server = [str(WORK / "llama-server"), "--jinja", "-m", str(model), "-t", str(threads), "-tb", str(threads)]
    # llama-server's -c is shared by its slots; enclave's context is per sequence.
    llama_server += ["-np", str(PARALLEL), "-c", str(CONTEXT * PARALLEL), "--host", "127.0.0.1", "--no-webui"]
    return {
        "enclave": [*enclave, "--port", str(ports["enclave"])],
        "llama-server": [*llama_server, "--port", str(ports["llama-server"])],
    }


@contextlib.contextmanager
def servers(threads: int) -> Iterator[dict[str, str]]:
    """Both servers started (each idles while the other is measured); their base URLs."""
    ports = {peer: free_port() for peer in PEERS}
    with contextlib.ExitStack() as stack:
        for peer, command in commands(default_model_path(), threads, ports).items():
            url = f"http://127.0.0.1:{ports[peer]}"
            ready = lambda url=url: httpx.get(f"{url}/v1/models", timeout=2).status_code == 200  # noqa: E731
            stack.enter_context(started(f"structured-{peer}", command, ready))
        yield {peer: f"http://127.0.0.1:{port}/v1" for peer, port in ports.items()}


@dataclass
class Results:
    first: dict[str, list[Outcome]]  # per server, every case once, in order
    batched: dict[str, list[Outcome]]  # per server, the answers of the 8-concurrent runs
    rates: dict[tuple[str, int], dict[str, list[float]]]  # (set, concurrency) -> server -> tokens/s per round
    answered: dict[str, int]  # per set of the rounds, how many cases (those both servers answered)


async def measure(urls: dict[str, str], all_cases: list[Case], rounds: int) -> Results:
    clients = {
        peer: openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=TIMEOUT)
        for peer, url in urls.items()
    }
    # Warm-up, not counted: enclave builds llguidance's view of the vocabulary on its first constrained request.
    warm_up = {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}}
    body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "response_format": warm_up}
    for client in clients.values():
        await ask(client, Case("warm-up", "json_schema", body, lambda _: ("valid", "")))
    first: dict[str, list[Outcome]] = {peer: [] for peer in PEERS}
    for i, case in enumerate(all_cases):
        # Each server first in every other case, so a slow moment of the machine hits both alike.
        for peer in PEERS[:: -1 if i % 2 else 1]:
            first[peer].append(await ask(clients[peer], case))
        row = "  ".join(f"{p} {first[p][-1].verdict:7} {first[p][-1].tok_s:6.1f} tok/s" for p in PEERS)
        print(f"{case.id:50} {row}", file=sys.stderr)
    # The aggregate runs use the cases both answered, so both generate for the same requests.
    both = {
        kind: [c for i, c in enumerate(all_cases) if c.kind == kind and all(first[p][i].tokens for p in PEERS)]
        for kind in KINDS
    }
    both[PLAIN] = unconstrained([c for c in all_cases if c.kind == "json_schema"])
    rates: dict[tuple[str, int], dict[str, list[float]]] = {
        (kind, concurrency): {p: [] for p in PEERS} for kind in both for concurrency in (1, 8)
    }
    batched: dict[str, list[Outcome]] = {peer: [] for peer in PEERS}
    for round_ in range(rounds):
        for (kind, concurrency), by_peer in rates.items():
            for peer in PEERS[:: -1 if round_ % 2 else 1]:
                outcomes, rate = await together(clients[peer], both[kind], concurrency)
                by_peer[peer].append(rate)
                if concurrency == 8 and kind != PLAIN:
                    batched[peer] += outcomes
                print(f"round {round_ + 1} {kind} c={concurrency} {peer:12} {rate:6.1f} tok/s", file=sys.stderr)
    for client in clients.values():
        await client.close()
    return Results(first, batched, rates, {kind: len(cases) for kind, cases in both.items()})


def label(outcome: Outcome) -> str:
    if outcome.verdict == "valid":
        text = f"valid ({outcome.detail})" if outcome.detail else "valid"
    elif outcome.verdict == "length":
        text = f"length {outcome.detail}"
    else:
        text = f"**{outcome.verdict}**: {outcome.detail[:100]}"
    return text.replace("|", "\\|").replace("\n", " ")


def summary(outcomes: dict[str, list[Outcome]]) -> list[str]:
    lines = [
        "| server | answers | valid | invalid | length | refused | error | valid of complete answers | median tok/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for peer, rows in outcomes.items():
        count = {v: sum(o.verdict == v for o in rows) for v in ("valid", "invalid", "length", "refused", "error")}
        complete = count["valid"] + count["invalid"]
        rate = f"{count['valid'] / complete:.0%}" if complete else "–"
        speeds = [o.tok_s for o in rows if o.tokens]
        lines.append(
            f"| {peer} | {len(rows)} | {count['valid']} | {count['invalid']} | {count['length']} | "
            f"{count['refused']} | {count['error']} | {rate} | {statistics.median(speeds) if speeds else 0:.1f} |"
        )
    return lines


def report(all_cases: list[Case], results: Results, threads: int, rounds: int) -> None:
    print(
        f"\nSmolLM2-135M Q4_1, {threads} threads, {PARALLEL} parallel sequences, {CONTEXT} tokens each, "
        f"temperature 0, max_tokens {MAX_TOKENS}\n"
    )
    print("| case | enclave | llama-server | tok/s | completion tokens | prompt tokens |")
    print("|---|---|---|---:|---:|---:|")
    for case, e, ls in zip(all_cases, results.first["enclave"], results.first["llama-server"], strict=True):
        print(
            f"| {case.id} | {label(e)} | {label(ls)} | {e.tok_s:.1f} / {ls.tok_s:.1f} | {e.tokens} / {ls.tokens} | "
            f"{e.prompt_tokens} / {ls.prompt_tokens} |"
        )
    print("\n(figures: enclave / llama-server)")
    for kind in KINDS:
        picked = [i for i, c in enumerate(all_cases) if c.kind == kind]
        first = {peer: [rows[i] for i in picked] for peer, rows in results.first.items()}
        paired = [e.tok_s / ls.tok_s for e, ls in zip(*first.values(), strict=True) if e.tokens and ls.tokens]
        print(f"\n{kind}: each case once, one request at a time\n")
        print("\n".join(summary(first)))
        ratio = statistics.median(paired) if paired else float("nan")
        print(f"\nenclave / llama-server tokens/s, median of {len(paired)} per-request ratios: {ratio:.2f}")
    print(f"\nThe JSON and tool cases both answered, 8 at a time, {rounds} rounds (validity in a batch):\n")
    print("\n".join(summary(results.batched)))
    print(f"\n| cases | c | enclave tok/s | llama-server tok/s | enclave / llama-server (median of {rounds}) |")
    print("|---|---:|---:|---:|---:|")
    for (kind, concurrency), by_peer in results.rates.items():
        ratio = statistics.median(e / ls for e, ls in zip(by_peer["enclave"], by_peer["llama-server"], strict=True))
        medians = {p: statistics.median(r) for p, r in by_peer.items()}
        cases = f"{kind} ({results.answered[kind]})"
        print(f"| {cases} | {concurrency} | {medians['enclave']:.1f} | {medians['llama-server']:.1f} | {ratio:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the aggregate runs; medians are kept")
    args = parser.parse_args()
    if not (WORK / "llama-server").exists():
        sys.exit("run bench/build_peers.sh first")
    all_cases = cases()
    with servers(args.threads) as urls:
        results = asyncio.run(measure(urls, all_cases, args.rounds))
    report(all_cases, results, args.threads, args.rounds)


if __name__ == "__main__":
    main()
