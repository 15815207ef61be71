"""Every failure leaves the API as an ErrorOut with the right status: typed TelcoErrors keep their own status,
request validation becomes 422 naming the field, a dead or overloaded backend becomes 503, anything else 500
(the classification is actors.runtime.errors).
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from actors.runtime.errors import as_telco_error
from telco.contract.http import ErrorOut
from telco.errors import InvalidInput, TelcoError

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type"}


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
