"""What a request asks of its target, in the routing policy's capabilities."""

from __future__ import annotations

from enclave.engines.base import GenerationRequest
from enclave.routing.capabilities import Capability


def needs(request: GenerationRequest) -> frozenset[Capability]:
    """Each capability a target must have to serve ``request`` as asked (none for a plain text request)."""
    wanted: set[Capability] = set()
    if request.tools:
        wanted.add("tools")
        if not request.parallel_tool_calls:
            wanted.add("parallel_tool_calls")
    if request.response_format.type != "text":
        wanted.add(request.response_format.type)
    if request.logprobs:
        wanted.add("logprobs")
    if request.n > 1:
        wanted.add("n")
    if request.messages is not None and any(m.images for m in request.messages):
        wanted.add("vision")
    return frozenset(wanted)
