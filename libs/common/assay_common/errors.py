"""The one exception hierarchy of Assay. Each error has a status and a machine-readable code.

Raise these from the domain; the HTTP layer renders them as RFC 9457 problem+json
(`assay_common.problems`). A message says what went wrong and what to do next, and never
carries secrets or internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class AssayError(Exception):
    """Base of every error Assay reports to a caller."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"
    #: Response headers the error's status calls for.
    headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions = extensions


class ConfigError(AssayError):
    """The configuration cannot be used; raised at start-up, never to a caller."""

    code = "config_error"
    title = "Invalid configuration"


class BadRequest(AssayError):
    status = 400
    code = "bad_request"
    title = "The request cannot be understood"


class Unauthorized(AssayError):
    status = 401
    code = "unauthorized"
    title = "Authentication is required"
    # RFC 9110 §15.5.2: a 401 names the scheme that would work.
    headers: ClassVar[Mapping[str, str]] = {"www-authenticate": 'Bearer realm="assay"'}


class Forbidden(AssayError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(AssayError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(AssayError):
    status = 409
    code = "conflict"
    title = "The request conflicts with the current state"


class Gone(AssayError):
    status = 410
    code = "gone"
    title = "No longer available"


class Invalid(AssayError):
    status = 422
    code = "invalid"
    title = "The request is not valid"


class TooManyRequests(AssayError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"


class BadGateway(AssayError):
    status = 502
    code = "bad_gateway"
    title = "The service behind the gateway did not answer"


class Unavailable(AssayError):
    status = 503
    code = "unavailable"
    title = "Temporarily unavailable"


class Sealed(Unavailable):
    code = "sealed"
    title = "The vault is sealed"


class GatewayTimeout(AssayError):
    status = 504
    code = "gateway_timeout"
    title = "The service behind the gateway took too long"
