"""The one place where errors become OpenAI-shaped JSON responses."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from enclave.errors import EnclaveError

log = logging.getLogger(__name__)


def error_body(message: str, type_: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def enclave_error_body(exc: EnclaveError) -> dict[str, Any]:
    return error_body(exc.message, exc.type, param=exc.param, code=exc.code)


def sse_error(exc: EnclaveError) -> str:
    """An error event for a stream that already started: the client sees it; it is never a clean end."""
    return f"data: {json.dumps(enclave_error_body(exc))}\n\n"


def _field(loc: tuple[Any, ...]) -> str | None:
    # The field's name, without where it came from: "prefix", not "path.prefix".
    where = len(loc) > 1 and loc[0] in ("body", "path", "query", "header")
    parts = [str(p) for p in (loc[1:] if where else loc)]
    return ".".join(parts) or None


async def _enclave_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EnclaveError)
    return JSONResponse(enclave_error_body(exc), status_code=exc.status, headers=exc.headers or None)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError | ValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        message, param = "The request body is not valid JSON.", None
    else:
        param = _field(tuple(first.get("loc", ())))
        detail = "unrecognized argument" if first.get("type") == "extra_forbidden" else first.get("msg")
        message = f"Invalid request: {param or 'body'}: {detail}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return JSONResponse(error_body(message, "invalid_request_error", param=param), status_code=400)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return JSONResponse(error_body(str(exc.detail), type_), status_code=exc.status_code, headers=exc.headers)


async def _store_error(_: Request, exc: Exception) -> JSONResponse:
    # The class name only: a driver's message can quote SQL parameters.
    log.error("store unreachable or failing: %s", exc.__class__.__name__)
    return JSONResponse(
        error_body("The store is unavailable; nothing was changed.", "server_error", code="store_unavailable"),
        status_code=503,
    )


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error while serving a request", exc_info=exc)
    return JSONResponse(error_body("The server had an internal error.", "server_error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(EnclaveError, _enclave_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(SQLAlchemyError, _store_error)
    app.add_exception_handler(Exception, _unexpected)
