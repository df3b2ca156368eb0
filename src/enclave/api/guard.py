"""POST /v1/guard/scan: what the guard finds in a text or a list of messages (positions and types only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from enclave.access.roles import Permission
from enclave.api.auth import require
from enclave.api.protocol import Message
from enclave.api.streaming import parse_body
from enclave.errors import GuardLimitExceeded, InvalidRequest
from enclave.gateway import Gateway

router = APIRouter()


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    messages: Annotated[list[Message], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one(self) -> ScanRequest:
        if (self.text is None) == (self.messages is None):
            raise ValueError("give exactly one of 'text' and 'messages'")
        return self


@router.post("/v1/guard/scan", dependencies=[Depends(require(Permission.INFER))])
async def scan(request: Request) -> dict[str, Any]:
    body = await parse_body(request, ScanRequest)
    gateway: Gateway = request.app.state.gateway
    if gateway.guard is None:
        raise InvalidRequest("the privacy guard is not configured on this server")
    texts = [body.text] if body.text is not None else [m.to_engine().content for m in body.messages or []]
    try:
        report = await gateway.guard.scan_async(texts)  # long texts off the event loop
    except GuardLimitExceeded as exc:
        raise GuardLimitExceeded(exc.message, param="text" if body.text is not None else "messages") from None
    return {
        "findings": [
            {"type": f.entity_type, "message": f.message, "start": f.start, "end": f.end} for f in report.findings
        ],
        "counts": report.counts,
        "data_class": report.data_class,
    }
