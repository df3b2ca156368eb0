"""enclave chat: an interactive, streaming chat in the terminal, against a server or in-process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any, Protocol

import httpx
import typer

from enclave.cli.common import ConfigOption, err, settings_or_exit
from enclave.config import Settings
from enclave.engines.base import ChatMessage, GenerationRequest, SamplingParams
from enclave.errors import EnclaveError
from enclave.gateway import Gateway, InferenceCall

HELP = "Type a message and press Enter. /reset clears the conversation, /exit (or Ctrl-D) leaves."


class ChatError(Exception):
    """A turn failed; the conversation goes on."""


class Backend(Protocol):
    def stream(self, messages: list[dict[str, str]], options: dict[str, Any]) -> AsyncIterator[str]: ...

    async def close(self) -> None: ...


class RemoteBackend:
    """Talks to a running enclave (or any OpenAI-compatible server) over HTTP."""

    def __init__(self, url: str, model: str, api_key: str | None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(600, connect=5)
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self._model = model

    async def stream(self, messages: list[dict[str, str]], options: dict[str, Any]) -> AsyncIterator[str]:
        body = {"model": self._model, "messages": messages, "stream": True, **options}
        try:
            async with self._client.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code != 200:
                    raise ChatError(_error_message(await response.aread(), response.status_code))
                async for line in response.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    payload = json.loads(line[6:])
                    if "error" in payload:
                        raise ChatError(payload["error"].get("message", "the server reported an error"))
                    for choice in payload.get("choices", []):
                        if text := choice.get("delta", {}).get("content"):
                            yield text
        except httpx.HTTPError as exc:
            raise ChatError(f"cannot reach {self._client.base_url}: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()


def _error_message(body: bytes, status: int) -> str:
    try:
        return f"{status}: {json.loads(body)['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"


class LocalBackend:
    """Runs the gateway in this process: no server needed."""

    def __init__(self, gateway: Gateway, model: str) -> None:
        self._gateway = gateway
        self._model = model

    async def stream(self, messages: list[dict[str, str]], options: dict[str, Any]) -> AsyncIterator[str]:
        request = GenerationRequest(
            messages=tuple(ChatMessage(m["role"], m["content"]) for m in messages),
            sampling=SamplingParams(temperature=options.get("temperature"), seed=options.get("seed")),
            max_tokens=options.get("max_tokens"),
        )
        try:
            async for delta in await self._gateway.infer(InferenceCall(self._model, request, "chat")):
                if delta.text:
                    yield delta.text
        except EnclaveError as exc:
            raise ChatError(exc.message) from exc

    async def close(self) -> None:
        await self._gateway.close()


async def _converse(backend: Backend, system: str | None, options: dict[str, Any]) -> None:
    interactive = sys.stdin.isatty()
    history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    if interactive:
        err.print(HELP)
    while True:
        try:
            line = await asyncio.to_thread(input, "you> " if interactive else "")
        except EOFError:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            break
        if text == "/reset":
            history = history[:1] if system else []
            continue
        history.append({"role": "user", "content": text})
        reply: list[str] = []
        try:
            async for piece in backend.stream(history, options):
                reply.append(piece)
                sys.stdout.write(piece)
                sys.stdout.flush()
        except ChatError as exc:
            history.pop()
            sys.stdout.write("\n")
            err.print(f"[red]error:[/red] {exc}")
            continue
        sys.stdout.write("\n")
        sys.stdout.flush()
        history.append({"role": "assistant", "content": "".join(reply)})
    await backend.close()


def _first_chat_model(settings: Settings) -> str:
    """The first configured model that chats (an embedding model cannot), else the first chat route."""
    names = [m.name for m in settings.models if m.type == "chat"] + [
        r.name for r in settings.routes if r.type == "chat"
    ]
    return names[0] if names else (settings.models[0].name if settings.models else settings.routes[0].name)


async def _local(settings: Settings, model: str | None) -> LocalBackend:
    from enclave.assembly import build_gateway

    gateway = await build_gateway(settings)
    return LocalBackend(gateway, model or _first_chat_model(settings))


def chat(
    url: Annotated[
        str | None,
        typer.Option(
            help="Base URL of a running server, e.g. http://127.0.0.1:8000. Without it, the model runs in this process."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name or alias (default: the first chat model configured).")
    ] = None,
    system: Annotated[str | None, typer.Option(help="System prompt for the conversation.")] = None,
    temperature: Annotated[float | None, typer.Option(min=0, max=2)] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Most tokens per answer.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed, for reproducible answers.")] = None,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="ENCLAVE_API_KEY", show_envvar=True, help="Key for --url servers that require one."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Chat with a model in the terminal, answers streaming as they are generated."""
    settings = settings_or_exit(config)
    options = {
        k: v for k, v in {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}.items() if v is not None
    }

    async def run() -> None:
        if url:
            backend: Backend = RemoteBackend(url, model or _first_chat_model(settings), api_key)
        else:
            try:
                backend = await _local(settings, model)
            except EnclaveError as exc:
                err.print(f"[red]error:[/red] {exc.message}")
                raise typer.Exit(1) from exc
        await _converse(backend, system, options)

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    asyncio.run(run())
