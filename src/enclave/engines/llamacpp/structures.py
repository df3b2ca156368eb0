"""The answer plans and compiled grammars of recent structured requests, so that a schema or a tool set seen
before is planned once.

Besides the planning itself (milliseconds for a typical schema), a hit saves the hop to a worker thread that a
new schema needs (planning and compiling must stay off the event loop): measured side by side at 8 concurrent
sequences (bench/structured_throughput.py, decode CPU per step), requests planned on a worker thread decoded
at 1.17-1.19x the CPU of unconstrained ones, the same requests planned on the event loop at 0.97-1.00x. The
cause inside llama.cpp is not isolated; the effect repeated over two runs of 8 and 10 alternating pairs.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import threading

from llguidance import LLMatcher

from enclave.engines.base import GenerationRequest
from enclave.engines.structured.plan import AnswerPlan

_KEPT = 64

Structure = tuple[AnswerPlan, LLMatcher]


def structure_key(request: GenerationRequest) -> str:
    """Everything ``plan_answer`` reads of a request, as one string: equal keys, equal plans."""
    return json.dumps(
        {
            "response_format": dataclasses.asdict(request.response_format),
            "tools": [dataclasses.asdict(tool) for tool in request.tools],
            "tool_choice": request.tool_choice,
            "parallel_tool_calls": request.parallel_tool_calls,
            "stop": bool(request.stop),
            "ignore_eos": request.ignore_eos,
            "chat": request.messages is not None,
        },
        sort_keys=True,
        default=repr,
    )


class Structures:
    """A small LRU of plans with their grammar's prototype matcher (give each sequence a ``deep_copy``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: collections.OrderedDict[str, Structure] = collections.OrderedDict()

    def get(self, key: str) -> Structure | None:
        with self._lock:
            structure = self._kept.get(key)
            if structure is not None:
                self._kept.move_to_end(key)
            return structure

    def put(self, key: str, structure: Structure) -> None:
        with self._lock:
            self._kept[key] = structure
            while len(self._kept) > _KEPT:
                self._kept.popitem(last=False)
