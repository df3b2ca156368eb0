"""What the HTTP request says about itself beyond the body: data class and project, for the policy."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from enclave.api.auth import credential
from enclave.api.bounds import project_name
from enclave.api.protocol import ChatCompletionRequest, CompletionRequest
from enclave.config import DATA_CLASSES, DataClass
from enclave.errors import InvalidRequest
from enclave.gateway import InferenceCall
from enclave.gateway.pipeline import Endpoint

DATA_CLASS_HEADER = "x-enclave-data-class"
PROJECT_HEADER = "x-enclave-project"


def inference_call(request: Request, body: ChatCompletionRequest | CompletionRequest) -> InferenceCall:
    metadata = getattr(body, "metadata", None) or {}
    data_class = request.headers.get(DATA_CLASS_HEADER) or metadata.get("data_class")
    if data_class is not None and data_class not in DATA_CLASSES:
        raise InvalidRequest(
            f"data class must be one of {', '.join(DATA_CLASSES)}, got {data_class!r}", param=DATA_CLASS_HEADER
        )
    endpoint: Endpoint = "chat" if isinstance(body, ChatCompletionRequest) else "completion"
    # Bounded like a project's name wherever it comes from; heeded only with auth off (the gateway decides).
    project = project_name(request.headers.get(PROJECT_HEADER), PROJECT_HEADER) or project_name(
        metadata.get("project"), "metadata.project"
    )
    return InferenceCall(
        body.model,
        body.to_engine(),
        endpoint,
        data_class=cast(DataClass | None, data_class),
        project=project,
        credential=credential(request),
    )
