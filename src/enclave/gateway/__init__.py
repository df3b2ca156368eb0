"""The gateway core: the request pipeline that decides where each request goes and accounts for it."""

from enclave.gateway.embeddings import EmbeddingCall, EmbeddingResult
from enclave.gateway.pipeline import Answer, Gateway, InferenceCall

__all__ = ["Answer", "EmbeddingCall", "EmbeddingResult", "Gateway", "InferenceCall"]
