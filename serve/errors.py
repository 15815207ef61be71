"""Every failure leaves the API as an ErrorOut with the right status: typed TelcoErrors keep their own status,
request validation becomes 422 naming the field, a dead or overloaded backend becomes 503, anything else 500.

Errors raised inside another deployment arrive wrapped by Ray. Measured on Ray 2.60: the handle raises a
`RayTaskError(<cause class>)` that is also an instance of the cause's class, with the original on `.cause`; an
exception that cannot be rebuilt on this side (its __init__ does not accept its own args) arrives as
`ray.exceptions.UnserializableException` and its type is lost.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray import exceptions as ray_exceptions
from ray.serve import exceptions as serve_exceptions
from starlette.exceptions import HTTPException as StarletteHTTPException

from serve.api import ErrorOut
from telco.errors import BackendUnavailable, InvalidInput, TelcoError

log = logging.getLogger("telco.serve")

_UNAVAILABLE = (
    serve_exceptions.BackPressureError,
    serve_exceptions.DeploymentUnavailableError,
    serve_exceptions.ReplicaUnavailableError,
    ray_exceptions.RayActorError,  # ActorDiedError and ActorUnavailableError are subclasses
    ray_exceptions.GetTimeoutError,
    asyncio.TimeoutError,
)
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type"}


class InternalError(TelcoError):
    code = "internal"
    http_status = 500


def unwrap(exc: BaseException) -> BaseException:
    """The exception a remote deployment actually raised (Ray wraps it, sometimes twice across hops)."""
    seen = 0
    while isinstance(exc, ray_exceptions.RayTaskError) and getattr(exc, "cause", None) is not None and seen < 8:
        exc = exc.cause
        seen += 1
    return exc


def as_telco_error(exc: BaseException) -> TelcoError:
    """Classify any exception from a route or a handle call as a TelcoError carrying the HTTP status to send."""
    exc = unwrap(exc)
    if isinstance(exc, TelcoError):
        return exc
    if isinstance(exc, _UNAVAILABLE):
        return BackendUnavailable(f"a backend service is unavailable ({type(exc).__name__}); retry shortly")
    incident = uuid.uuid4().hex[:12]
    if isinstance(exc, ray_exceptions.UnserializableException):
        log.error("incident %s: a backend raised an error that could not be sent back: %s", incident, exc)
        return InternalError("a backend service failed with an error that could not be transported; "
                             f"see the server log (incident {incident})", incident=incident)
    log.error("incident %s: unhandled error", incident, exc_info=(type(exc), exc, exc.__traceback__))
    return InternalError(f"internal error; see the server log (incident {incident})", incident=incident)


def error_response(err: TelcoError) -> JSONResponse:
    details: dict[str, Any] | None = dict(err.details) if err.details else None
    body = ErrorOut(code=err.code, message=err.message, details=details)
    headers: dict[str, str] = {}
    if err.http_status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if err.http_status == 429 and details and "retry_after_s" in details:
        headers["Retry-After"] = str(details["retry_after_s"])
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=err.http_status,
                        headers=headers)


def _field(loc: tuple[Any, ...]) -> tuple[str, str]:
    where = str(loc[0]) if loc else "body"
    rest = [str(p) for p in loc[1:]]
    return where, ".".join(rest) or where


def validation_error(exc: RequestValidationError) -> TelcoError:
    problems = []
    for e in exc.errors():
        where, field = _field(tuple(e.get("loc", ())))
        problem = str(e.get("msg", "invalid"))
        if e.get("type") == "json_invalid":
            field, problem = "body", f"the body is not valid JSON ({e.get('ctx', {}).get('error', 'parse error')})"
        problems.append({"location": where, "field": field, "problem": problem})
    message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems) or "the request is not valid"
    return InvalidInput(f"invalid request: {message}", errors=problems)


def install_error_handlers(app: FastAPI) -> None:
    async def on_telco(_: Request, exc: TelcoError) -> JSONResponse:
        return error_response(as_telco_error(exc))

    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        err = TelcoError(str(exc.detail))
        err.code, err.http_status = _HTTP_CODES.get(exc.status_code, "error"), exc.status_code
        response = error_response(err)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def on_other(_: Request, exc: Exception) -> JSONResponse:
        return error_response(as_telco_error(exc))

    app.add_exception_handler(TelcoError, on_telco)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_other)
