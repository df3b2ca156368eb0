"""What each target can do, as routing sees it, and the request field that needs each capability.

Capabilities are routing knowledge: engines know nothing of them. A target's set is the default of its kind,
then the provider's ``capabilities``, then the provider's ``models.<name>.capabilities`` (an embedded model's
own ``capabilities``), each overriding only what it sets.
"""

from __future__ import annotations

from typing import Literal, get_args

from enclave.config import CapabilitiesConfig

Capability = Literal[
    "tools", "parallel_tool_calls", "json_object", "json_schema", "logprobs", "n", "vision", "assistant_prefill"
]
CAPABILITIES: tuple[Capability, ...] = get_args(Capability)

# The request field a capability is needed for: a refusal names it as OpenAI's ``param``.
FIELDS: dict[Capability, str] = {
    "tools": "tools",
    "parallel_tool_calls": "parallel_tool_calls",
    "json_object": "response_format",
    "json_schema": "response_format",
    "logprobs": "logprobs",
    "n": "n",
    "vision": "messages",
    "assistant_prefill": "messages",
}

# The embedded llama.cpp engine constrains its own sampling (tools, JSON) and computes logprobs and n choices
# itself; it reads no images. An assistant prefill is off everywhere unless declared: an API that does not
# continue a trailing assistant message answers after it instead, and a rescued stream would repeat itself.
EMBEDDED_DEFAULT: frozenset[Capability] = frozenset(
    {"tools", "parallel_tool_calls", "json_object", "json_schema", "logprobs", "n"}
)
# A hosted API is assumed to offer what OpenAI's does; declare less in enclave.yaml where it does not.
UPSTREAM_DEFAULT: frozenset[Capability] = frozenset(CAPABILITIES) - {"assistant_prefill"}


def resolve(default: frozenset[Capability], *overrides: CapabilitiesConfig | None) -> frozenset[Capability]:
    """The default set with each override applied in turn (later ones win)."""
    capabilities = set(default)
    for override in overrides:
        if override is None:
            continue
        for name in CAPABILITIES:
            value = getattr(override, name)
            if value is True:
                capabilities.add(name)
            elif value is False:
                capabilities.discard(name)
    return frozenset(capabilities)


def ordered(capabilities: frozenset[Capability] | set[Capability]) -> list[Capability]:
    """In the one fixed order, so messages and headers read the same every time."""
    return [c for c in CAPABILITIES if c in capabilities]
