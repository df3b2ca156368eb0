"""Every error enclave raises on purpose, as one tree.

Each class carries the HTTP status and the OpenAI error ``type``/``code`` it maps to, so the API edge can
translate any of them into OpenAI's error JSON in exactly one place (``enclave.api.errors``). Lower layers
(llama.cpp, httpx, the file system) have their failures mapped into this tree where they are caught.
"""

from __future__ import annotations


class EnclaveError(Exception):
    """Base of every error that reaches a client; never raised itself."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the CLI exits with status 2."""


class InvalidRequest(EnclaveError):
    """The request body is malformed or asks for something the target cannot do."""

    status = 400
    type = "invalid_request_error"


class ContextLengthExceeded(InvalidRequest):
    """The prompt (plus the requested completion) does not fit the model's context window."""

    code = "context_length_exceeded"


class GuardBlocked(InvalidRequest):
    """The privacy guard found sensitive data and the policy blocks it; the message names types, never values."""

    code = "sensitive_data_blocked"


class AnswerBlocked(GuardBlocked):
    """An external model's answer holds personal data the request did not carry, and guard.answers blocks it."""

    code = "sensitive_answer_blocked"


class GuardFailed(EnclaveError):
    """The privacy guard could not finish a scan (its worker process ended). Inference does not raise it: there
    the guard fails closed (restricted); /v1/guard/scan does."""

    code = "guard_failed"


class GuardLimitExceeded(InvalidRequest):
    """The texts to scan are longer than the privacy guard reads (``guard.max_chars``). Inference does not
    raise it: there the guard fails closed (restricted, or refused under ``block``); /v1/guard/scan does."""

    status = 413
    code = "guard_limit_exceeded"


class RequestTooLarge(EnclaveError):
    """The body is longer than ``server.max_body_bytes``; refused before more of it is read."""

    status = 413
    type = "invalid_request_error"
    code = "request_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The request body is larger than this server's limit of {limit} bytes.", headers={"Connection": "close"}
        )  # the rest of the body is not read: the connection ends


class HeadersTooLarge(EnclaveError):
    """The request line and headers are longer than ``server.max_header_bytes``."""

    status = 431
    type = "invalid_request_error"
    code = "request_header_fields_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request line and headers are larger than this server's limit of {limit} bytes.")


class ModelNotFound(EnclaveError):
    """No configured model has the requested name or alias."""

    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class WrongModelType(InvalidRequest):
    """The model exists but serves another operation: a chat model asked for embeddings, or the reverse."""

    code = "model_type_mismatch"


class EngineOverloaded(EnclaveError):
    """The engine's wait queue is full; the client should retry after ``retry_after`` seconds."""

    status = 429
    type = "rate_limit_error"
    code = "engine_overloaded"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ModelUnavailable(EnclaveError):
    """A configured model cannot be loaded (file missing, not downloadable offline, not a valid GGUF)."""

    status = 503
    type = "server_error"
    code = "model_unavailable"


class EngineFailed(EnclaveError):
    """The engine failed while generating (llama.cpp returned an error); the request cannot complete."""

    status = 500
    type = "server_error"
    code = "engine_error"


class ShuttingDown(EnclaveError):
    """The server is stopping and takes no new work."""

    status = 503
    type = "server_error"
    code = "shutting_down"


class PolicyDenied(EnclaveError):
    """The routing policy forbids this request (a deny rule, or no target its data may go to)."""

    status = 403
    type = "permission_error"
    code = "policy_denied"


class UpstreamFailed(EnclaveError):
    """An upstream provider failed (refused, errored, or its stream broke off); no target could answer."""

    status = 502
    type = "server_error"
    code = "upstream_error"

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class UpstreamTimeout(UpstreamFailed):
    """An upstream did not connect, answer or continue its stream within the configured time."""

    status = 504
    code = "upstream_timeout"


class NoTargetAvailable(EnclaveError):
    """Every allowed target failed or has its circuit open; the message lists each attempt."""

    status = 503
    type = "server_error"
    code = "no_target_available"


class AuthenticationFailed(EnclaveError):
    """No key, an unknown key, or a revoked or expired one. The message never repeats the key."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(EnclaveError):
    """A valid key whose role or project does not allow this endpoint or model."""

    status = 403
    type = "permission_error"
    code = "forbidden"


class RateLimited(EnclaveError):
    """A requests- or tokens-per-minute limit of the key or its project is reached."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceeded(EnclaveError):
    """The project's monthly budget is spent and its policy blocks further requests."""

    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"


class NotFound(EnclaveError):
    """An admin resource (key, project) that does not exist."""

    status = 404
    type = "invalid_request_error"
    code = "not_found"


class Conflict(EnclaveError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class StoreUnavailable(EnclaveError):
    """The database or the limits store cannot be reached; requests are refused rather than left unaccounted."""

    status = 503
    type = "server_error"
    code = "store_unavailable"


class CsrfRefused(PermissionDenied):
    """A dashboard form sent without the token this dashboard put in it: another site's page, or a stale one."""

    code = "csrf_refused"


class SsoFailed(EnclaveError):
    """Single sign-on did not complete: the provider's answer failed a check (state, nonce, signature, audience,
    expiry) or refused the code. Shown as a page; the browser starts again."""

    status = 400
    type = "invalid_request_error"
    code = "sso_failed"


class SsoUnavailable(SsoFailed):
    """The sign-in provider cannot be reached, or answers with something that is not what OIDC describes."""

    status = 502
    type = "server_error"
    code = "sso_unavailable"


class SsoRefused(PermissionDenied):
    """The provider vouched for the user, but no claim maps them to an enclave role (or to a known project)."""

    code = "sso_no_role"
