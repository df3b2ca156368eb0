"""An upstream provider's ``/embeddings`` (OpenAI's ``text-embedding-3-*``, or any OpenAI-compatible server) as an
``Embedder``, on the provider's shared connection pool, with its timeouts and error mapping."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from enclave.engines.base import EmbeddingInput, Embeddings
from enclave.engines.upstream import UpstreamEngine
from enclave.errors import UpstreamFailed


class UpstreamEmbedder(UpstreamEngine):
    """A hosted embedding model. Vectors come back as the upstream computed them (float32, in input order);
    ``dimensions`` is passed on, for the upstream to honour or refuse."""

    async def embed(self, inputs: Sequence[EmbeddingInput], *, dimensions: int | None = None) -> Embeddings:
        body: dict[str, Any] = {
            "model": self.model,
            "input": [item if isinstance(item, str) else list(item) for item in inputs],
            "encoding_format": "float",  # every OpenAI-compatible server speaks it; base64 is optional
        }
        if dimensions is not None:
            body["dimensions"] = dimensions
        content = await self._post("/embeddings", body)
        try:
            data = json.loads(content)
            rows = sorted(data["data"], key=lambda row: int(row["index"]))
            if [int(row["index"]) for row in rows] != list(range(len(inputs))):
                raise ValueError("not one embedding per input")
            vectors = np.array([row["embedding"] for row in rows], dtype=np.float32)
            if vectors.ndim != 2:
                raise ValueError("embeddings of different lengths")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UpstreamFailed(f"{self._name} returned a response that is not an OpenAI embedding list") from None
        return Embeddings(vectors, _tokens(data.get("usage"), inputs), None)


def _tokens(usage: object, inputs: Sequence[EmbeddingInput]) -> tuple[int, ...]:
    """Tokens per input. An upstream reports only the total: it is put on the first input. Without a usage,
    estimated (about 4 characters a token), never reported as nothing."""
    reported = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if isinstance(reported, int) and reported >= 0:
        return (reported, *(0 for _ in inputs[1:]))
    return tuple(max(1, math.ceil(len(item) / 4)) if isinstance(item, str) else len(item) for item in inputs)
