"""The routing policy: ordered rules, first match decides, and a zone invariant no rule can override.

Every decision names the rule that made it and why, so it can be sent back in headers, counted and audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from enclave.config import NEVER_EXTERNAL, DataClass, PolicyConfig, RuleConfig, Settings
from enclave.errors import InvalidRequest, PolicyDenied
from enclave.routing.capabilities import FIELDS, Capability, ordered
from enclave.routing.table import Route, RouteTable, Target


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the policy may look at: nothing of the prompt but its size."""

    model: str
    data_class: DataClass | None = None
    project: str | None = None
    prompt_chars: int = 0
    local_only: bool = False  # the caller's project allows no external zone
    needs: frozenset[Capability] = frozenset()  # what the request asks of its target (tools, n > 1, ...)
    guard: str | None = None  # the guard's deciding finding type and its action ("PERSON=keep_local")


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    model: str  # the public name the client asked for
    data_class: DataClass
    rule: str
    reason: str
    targets: tuple[Target, ...]  # allowed, in the order to try them
    excluded: tuple[tuple[Target, str], ...] = field(default=())
    guard: str | None = None  # the guard's deciding finding type and its action, when it found something

    def exclusions(self) -> str:
        """The excluded targets and why, on one line of printable ASCII (a response header's value)."""
        line = "; ".join(f"{target}: {why}" for target, why in self.excluded)
        return "".join(c if " " <= c <= "~" else "?" for c in line)


DEFAULT_RULE = "default"
ZONE_RULE = "sovereignty"
PROJECT_RULE = "project"


class Router:
    def __init__(self, settings: Settings, table: RouteTable | None = None) -> None:
        self._policy: PolicyConfig = settings.policy
        self.table = table or RouteTable(settings)

    @property
    def default_data_class(self) -> DataClass:
        return self._policy.default_data_class

    def decide(self, facts: RequestFacts) -> RoutingDecision:
        route = self.table.resolve(facts.model)
        data_class = facts.data_class or self._policy.default_data_class
        rule = next((r for r in self._policy.rules if _matches(r, route, facts, data_class)), None)
        name = rule.name if rule else DEFAULT_RULE
        targets = list(route.targets)
        reason = "the model's targets in configured order"
        excluded: list[tuple[Target, str]] = []
        local_only = False
        if rule is not None:
            reason = rule.reason or _describe(rule)
            if rule.action == "deny":
                raise PolicyDenied(f"Request denied by policy rule '{rule.name}': {reason}")
            if rule.action == "route":
                assert rule.target is not None
                first = self.table.target(rule.target.provider, rule.target.model)
                targets = [first, *(t for t in targets if t != first)]
            local_only = rule.action in ("forbid_external", "require_local")
        if data_class in NEVER_EXTERNAL or data_class not in self._policy.external_data_classes:
            local_only = True
            if rule is None:
                name, reason = ZONE_RULE, f"{data_class} data stays inside the perimeter"
        if facts.local_only and not local_only:
            local_only = True
            if rule is None:
                name, reason = PROJECT_RULE, f"project {facts.project} allows local zones only"
        if local_only:
            excluded = [(t, "external zone not allowed") for t in targets if t.zone != "local"]
            targets = [t for t in targets if t.zone == "local"]
            if not targets and rule is not None and rule.action == "require_local" and self._policy.local_model:
                local = self.table.resolve(self._policy.local_model)
                # Only a model of the same type can stand in (a chat model computes no embeddings).
                targets = [t for t in local.targets if t.zone == "local"] if local.type == route.type else []
                reason += f"; no local target for {route.name}, sent to {self._policy.local_model}"
        if not targets:
            raise PolicyDenied(
                f"Policy rule '{name}' allows only local targets for this request ({reason}), and model "
                f"'{route.name}' has none."
            )
        if facts.needs:
            targets = _capable(route, facts.needs, targets, excluded)
        if facts.guard is not None:
            reason += f"; guard: {facts.guard}"
        return RoutingDecision(route.name, data_class, name, reason, tuple(targets), tuple(excluded), facts.guard)


def _capable(
    route: Route, needs: frozenset[Capability], targets: list[Target], excluded: list[tuple[Target, str]]
) -> list[Target]:
    """The targets that can do all the request needs; the others join ``excluded`` with what they lack."""
    capable: list[Target] = []
    refused: list[tuple[Target, str]] = []
    lacking: set[Capability] = set()
    for target in targets:
        if missing := ordered(needs - target.capabilities):
            refused.append((target, f"cannot do {', '.join(missing)}"))
            lacking.update(missing)
        else:
            capable.append(target)
    excluded += refused
    if not capable:
        named = ordered(lacking)
        raise InvalidRequest(
            f"No target of model '{route.name}' that this request may use supports {' and '.join(named)} "
            f"({'; '.join(f'{target}: {why}' for target, why in refused)}).",
            param=FIELDS[named[0]],
        )
    return capable


def _matches(rule: RuleConfig, route: Route, facts: RequestFacts, data_class: str) -> bool:
    when = rule.when
    if when.models is not None and not set(when.models).intersection((route.name, *route.aliases)):
        return False
    if when.projects is not None and facts.project not in when.projects:
        return False
    if when.data_classes is not None and data_class not in when.data_classes:
        return False
    if when.min_prompt_chars is not None and facts.prompt_chars < when.min_prompt_chars:
        return False
    return not (when.max_prompt_chars is not None and facts.prompt_chars > when.max_prompt_chars)


def _describe(rule: RuleConfig) -> str:
    action = {
        "route": f"route to {rule.target}",
        "forbid_external": "external zones forbidden",
        "require_local": "local targets required",
        "deny": "denied",
    }[rule.action]
    return f"{action} ({', '.join(f'{k}={v}' for k, v in rule.when.model_dump(exclude_none=True).items()) or 'always'})"
