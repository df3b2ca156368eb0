"""Public model names and aliases, resolved to the engine that serves them."""

from __future__ import annotations

from collections.abc import Iterable

from enclave.engines.base import Engine, ModelInfo
from enclave.errors import ModelNotFound


class ModelDirectory:
    def __init__(self, engines: Iterable[Engine]) -> None:
        self._engines = list(engines)
        self._by_name: dict[str, Engine] = {}
        for engine in self._engines:
            for name in (engine.info.name, *engine.info.aliases):
                self._by_name[name] = engine

    def resolve(self, name: str) -> Engine:
        try:
            return self._by_name[name]
        except KeyError:
            raise ModelNotFound(
                f"The model '{name}' does not exist. Available: {', '.join(sorted(self._by_name))}.",
                param="model",
            ) from None

    def models(self) -> list[ModelInfo]:
        return [engine.info for engine in self._engines]

    def engines(self) -> list[Engine]:
        return list(self._engines)
