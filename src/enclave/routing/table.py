"""Public model names resolved to their targets, each with its trust zone and capabilities. Knows nothing of
engines."""

from __future__ import annotations

from dataclasses import dataclass, field

from enclave.config import EMBEDDED_PROVIDER, ModelType, Settings, TrustZone
from enclave.errors import ModelNotFound
from enclave.routing.capabilities import EMBEDDED_DEFAULT, UPSTREAM_DEFAULT, Capability, resolve

# Every model name that resolves to nothing, in metrics and the ledger (no configured name has parentheses).
UNKNOWN_MODEL = "(unknown)"


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str
    zone: TrustZone
    # Derived from the configuration for (provider, model): not part of the target's identity.
    capabilities: frozenset[Capability] = field(default=frozenset(), compare=False)

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    aliases: tuple[str, ...]
    targets: tuple[Target, ...]
    type: ModelType = "chat"  # the operation its targets serve

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class RouteTable:
    """Every name a client may send: each embedded model on its own, and each configured route."""

    def __init__(self, settings: Settings) -> None:
        self._providers = {p.name: p for p in settings.providers}
        self._embedded = {m.name: m for m in settings.models}
        self._routes: list[Route] = []
        for model in settings.models:
            target = self.target(EMBEDDED_PROVIDER, model.name)
            self._routes.append(Route(model.name, tuple(model.aliases), (target,), model.type))
        for route in settings.routes:
            targets = tuple(self.target(t.provider, t.model) for t in route.targets)
            self._routes.append(Route(route.name, tuple(route.aliases), targets, route.type))
        self._by_name = {name: route for route in self._routes for name in (route.name, *route.aliases)}

    def resolve(self, name: str) -> Route:
        try:
            return self._by_name[name]
        except KeyError:
            raise ModelNotFound(
                f"The model '{name}' does not exist. Available: {', '.join(sorted(self._by_name))}.",
                param="model",
            ) from None

    def name_of(self, name: str) -> str:
        """The public name ``name`` stands for, or UNKNOWN_MODEL: what a client makes up never becomes a metric
        label or a stored value."""
        route = self._by_name.get(name)
        return route.name if route is not None else UNKNOWN_MODEL

    def target(self, provider: str, model: str) -> Target:
        if provider == EMBEDDED_PROVIDER:
            embedded = self._embedded.get(model)
            return Target(
                provider, model, "local", resolve(EMBEDDED_DEFAULT, embedded.capabilities if embedded else None)
            )
        config = self._providers[provider]
        per_model = config.models.get(model)
        capabilities = resolve(UPSTREAM_DEFAULT, config.capabilities, per_model.capabilities if per_model else None)
        return Target(provider, model, config.zone, capabilities)

    def routes(self) -> list[Route]:
        return list(self._routes)

    def targets(self) -> set[Target]:
        return {t for route in self._routes for t in route.targets}
