"""POST /v1/embeddings: OpenAI's wire shape, translated into an embedding call on the gateway and back."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from enclave.api.bounds import EndUser, ModelName
from enclave.api.context import embedding_call
from enclave.api.streaming import parse_body
from enclave.engines.base import EmbeddingInput
from enclave.errors import InvalidRequest
from enclave.gateway import Gateway

router = APIRouter()
MAX_INPUTS = 2048  # OpenAI's own bound on the inputs of one request

TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=1 << 20)]


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request: ``input`` is a string, a list of strings, a list of token ids or a list of
    such lists. ``user`` is accepted and not used."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName
    input: (
        str
        | Annotated[list[str], Field(max_length=MAX_INPUTS)]
        | TokenIds
        | Annotated[list[TokenIds], Field(max_length=MAX_INPUTS)]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1)] | None = None
    user: EndUser | None = None

    def inputs(self) -> tuple[EmbeddingInput, ...]:
        """One item per vector to compute; an empty input is a 400 naming ``input`` (and which one)."""
        value = self.input
        if isinstance(value, str) or (value and isinstance(value[0], int)):
            items: list[Any] = [value]  # one string, or one input's token ids
        else:
            items = list(value)
        if not items:
            raise InvalidRequest("input must not be empty", param="input")
        for index, item in enumerate(items):
            if not item:
                which = f"input {index}" if len(items) > 1 else "the input"
                raise InvalidRequest(f"{which} is empty; every input needs text or token ids", param="input")
        return tuple(item if isinstance(item, str) else tuple(item) for item in items)


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        # Little-endian float32, as OpenAI sends it and its SDK decodes it (numpy.frombuffer, dtype float32).
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    result: list[float] = vector.tolist()
    return result


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> JSONResponse:
    body = await parse_body(request, EmbeddingRequest)
    gateway: Gateway = request.app.state.gateway
    result = await gateway.embed(embedding_call(request, body.model, body.inputs(), body.dimensions))
    data = [
        {"object": "embedding", "index": index, "embedding": _encode(vector, body.encoding_format)}
        for index, vector in enumerate(result.vectors)
    ]
    usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
    return JSONResponse({"object": "list", "data": data, "model": result.model, "usage": usage}, headers=result.headers)
