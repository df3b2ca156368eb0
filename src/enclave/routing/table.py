"""Public model names resolved to their targets, each with its trust zone. Knows nothing of engines."""

from __future__ import annotations

from dataclasses import dataclass

from enclave.config import EMBEDDED_PROVIDER, Settings, TrustZone
from enclave.errors import ModelNotFound


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str
    zone: TrustZone

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    aliases: tuple[str, ...]
    targets: tuple[Target, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class RouteTable:
    """Every name a client may send: each embedded model on its own, and each configured route."""

    def __init__(self, settings: Settings) -> None:
        self._zones: dict[str, TrustZone] = {p.name: p.zone for p in settings.providers}
        self._zones[EMBEDDED_PROVIDER] = "local"
        self._routes: list[Route] = []
        for model in settings.models:
            self._routes.append(Route(model.name, tuple(model.aliases),
                                      (Target(EMBEDDED_PROVIDER, model.name, "local"),)))
        for route in settings.routes:
            targets = tuple(self.target(t.provider, t.model) for t in route.targets)
            self._routes.append(Route(route.name, tuple(route.aliases), targets))
        self._by_name = {name: route for route in self._routes for name in (route.name, *route.aliases)}

    def resolve(self, name: str) -> Route:
        try:
            return self._by_name[name]
        except KeyError:
            raise ModelNotFound(
                f"The model '{name}' does not exist. Available: {', '.join(sorted(self._by_name))}.",
                param="model",
            ) from None

    def target(self, provider: str, model: str) -> Target:
        return Target(provider, model, self._zones[provider])

    def routes(self) -> list[Route]:
        return list(self._routes)

    def targets(self) -> set[Target]:
        return {t for route in self._routes for t in route.targets}
