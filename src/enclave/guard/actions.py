"""What a request's findings do to it, per finding type and per project: the guard's verdict.

Each finding type has an action for a request that would go to an external target: the project's own
(``guard.projects.<name>.actions``), else the global one (``guard.actions``), else ``guard.action``. The strictest
action over a request's findings wins (block > keep_local > pseudonymize > allow); the verdict names the type
that decided, so headers, ``route explain`` and the audit log can say why (types, never values).
"""

from __future__ import annotations

from dataclasses import dataclass

from enclave.config import DATA_CLASSES, DataClass, GuardAction, GuardConfig
from enclave.errors import GuardBlocked
from enclave.guard.findings import DEFAULT_CLASSES, DENY_TERM, GUARD_ERROR, GuardReport

STRICTNESS: tuple[GuardAction, ...] = ("allow", "pseudonymize", "keep_local", "block")
_KEPT: DataClass = "confidential"  # the least class that never leaves the perimeter (config.NEVER_EXTERNAL)


def classes_of(config: GuardConfig) -> dict[str, DataClass]:
    """The data class each finding type implies: the defaults, then the configured overrides."""
    classes: dict[str, DataClass] = {**DEFAULT_CLASSES, **config.entity_classes}
    for custom in config.custom_patterns:
        classes[custom.name] = custom.data_class
    if config.deny_terms:
        classes[DENY_TERM] = config.deny_terms_class
    return classes


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one request's findings mean for it."""

    action: GuardAction | None = None  # the strictest action over the findings; None when nothing was found
    deciding: str | None = None  # the finding type whose action that is
    data_class: DataClass | None = None  # the class the kept-local findings raise the request to
    masked: frozenset[str] = frozenset()  # the types an external target receives as placeholders

    def describe(self) -> str | None:
        """``PERSON=keep_local``: the deciding type and its action (a header's value, an audit field)."""
        return f"{self.deciding}={self.action}" if self.action is not None else None


class ActionTable:
    """Per-type actions, globally and per project, read once from the configuration."""

    def __init__(self, config: GuardConfig) -> None:
        self._default = config.action
        self._global = dict(config.actions)
        self._projects = {name: dict(p.actions) for name, p in config.projects.items()}
        self._classes = classes_of(config)

    def action(self, entity_type: str, project: str | None) -> tuple[GuardAction, bool]:
        """The action for one finding type, and whether it was named for that type (not the default)."""
        own = self._projects.get(project or "", {}).get(entity_type)
        if own is not None:
            return own, True
        named = self._global.get(entity_type)
        return (named, True) if named is not None else (self._default, False)

    def verdict(self, report: GuardReport, project: str | None) -> Verdict:
        """The verdict on a report; GuardBlocked (naming the types, never values) when the strictest is block."""
        if report.failed:
            # A guard that could not read the request fails closed, whatever the actions say.
            if self._default == "block":
                raise GuardBlocked("The privacy guard could not inspect the request; this server's policy blocks it.")
            return Verdict("keep_local", GUARD_ERROR, "restricted")
        if not report.counts:
            return Verdict()
        actions: dict[str, GuardAction] = {}
        kept: list[DataClass] = []
        for entity_type in sorted(report.counts):
            action, named = self.action(entity_type, project)
            actions[entity_type] = action
            if action == "keep_local":
                implied = self._classes.get(entity_type, _KEPT)
                # Named keep_local means the type stays inside, whatever its class: at least confidential.
                kept.append(max(implied, _KEPT, key=DATA_CLASSES.index) if named else implied)
        # The strictest action; between types of that action, the one of the higher class (then by name).
        deciding = max(
            actions, key=lambda t: (STRICTNESS.index(actions[t]), DATA_CLASSES.index(self._classes.get(t, _KEPT)))
        )
        strictest = actions[deciding]
        if strictest == "block":
            blocked = ", ".join(t for t, a in actions.items() if a == "block")
            raise GuardBlocked(f"The request contains sensitive data ({blocked}); this server's policy blocks it.")
        return Verdict(
            strictest,
            deciding,
            max(kept, key=DATA_CLASSES.index) if kept else None,
            frozenset(t for t, a in actions.items() if a == "pseudonymize"),
        )
