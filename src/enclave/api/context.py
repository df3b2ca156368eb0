"""What the HTTP request says about itself beyond the body: data class and project, for the policy."""

from __future__ import annotations

from fastapi import Request

from enclave.api.auth import credential
from enclave.api.bounds import project_name
from enclave.api.protocol import ChatCompletionRequest, CompletionRequest
from enclave.config import DATA_CLASSES, DataClass
from enclave.engines.base import EmbeddingInput
from enclave.errors import InvalidRequest
from enclave.gateway import EmbeddingCall, InferenceCall
from enclave.gateway.pipeline import Endpoint

DATA_CLASS_HEADER = "x-enclave-data-class"
PROJECT_HEADER = "x-enclave-project"


def _policy_fields(request: Request, metadata: dict[str, str]) -> tuple[DataClass | None, str | None]:
    """The data class and project a request declares, from headers or ``metadata``."""
    data_class = request.headers.get(DATA_CLASS_HEADER) or metadata.get("data_class")
    if data_class is not None and data_class not in DATA_CLASSES:
        raise InvalidRequest(
            f"data class must be one of {', '.join(DATA_CLASSES)}, got {data_class!r}", param=DATA_CLASS_HEADER
        )
    # Bounded like a project's name wherever it comes from; heeded only with auth off (the gateway decides).
    project = project_name(request.headers.get(PROJECT_HEADER), PROJECT_HEADER) or project_name(
        metadata.get("project"), "metadata.project"
    )
    return data_class, project


def inference_call(request: Request, body: ChatCompletionRequest | CompletionRequest) -> InferenceCall:
    data_class, project = _policy_fields(request, getattr(body, "metadata", None) or {})
    endpoint: Endpoint = "chat" if isinstance(body, ChatCompletionRequest) else "completion"
    return InferenceCall(
        body.model,
        body.to_engine(),
        endpoint,
        data_class=data_class,
        project=project,
        credential=credential(request),
    )


def embedding_call(
    request: Request, model: str, inputs: tuple[EmbeddingInput, ...], dimensions: int | None
) -> EmbeddingCall:
    """An embeddings request declares its data class and project in headers only (its body has no metadata)."""
    data_class, project = _policy_fields(request, {})
    return EmbeddingCall(model, inputs, dimensions, data_class, project, credential(request))
