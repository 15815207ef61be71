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
from starlette.routing import compile_path

from actors.runtime.errors import as_telco_error
from telco.contract.http import ErrorOut
from telco.errors import InvalidInput, TelcoError

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type"}
# What each error status means in this API: the OpenAPI document declares, per route, exactly the statuses it can
# answer with (error_responses), all with the one ErrorOut body.
ERROR_MEANINGS: dict[int, str] = {
    400: "the body could not be parsed (send UTF-8 JSON)",
    401: "missing or unknown API key",
    403: "the key may not do this",
    404: "no such record (the message names it)",
    409: "the record is in a state that does not allow this (e.g. claimed by someone else)",
    413: "request body over the size limit",
    422: "invalid request: the field and the problem",
    429: "rate limit exceeded; see Retry-After",
    503: "a back-end system is unavailable; try again later",
}


def error_responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` for these error statuses; `described` overrides a meaning (e.g. e404="unknown id")."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"model": ErrorOut, "description": described.get(f"e{status}", ERROR_MEANINGS[status])}
    return out


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

    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own 400 is a body it could not decode; say what to send instead of "error parsing the body".
        message = ERROR_MEANINGS[400] if exc.status_code == 400 else str(exc.detail)
        err = TelcoError(message)
        err.code, err.http_status = _HTTP_CODES.get(exc.status_code, "error"), exc.status_code
        response = error_response(err)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405 and (methods := allowed_methods(app, request)):
            response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    async def on_other(_: Request, exc: Exception) -> JSONResponse:
        return error_response(as_telco_error(exc))

    app.add_exception_handler(TelcoError, on_telco)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_other)


def allowed_methods(app: FastAPI, request: Request) -> set[str]:
    """Every method the API document gives this path. Starlette's 405 names only the first route that matched the
    path, so a path with a GET and a POST route would wrongly deny the other one."""
    methods: set[str] = set()
    for path, operations in app.openapi().get("paths", {}).items():
        if compile_path(path)[0].match(request.url.path):
            methods |= {m.upper() for m in operations if m.upper() in _HTTP_METHODS}
    return methods


_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def links(status: int, source: str, **targets: tuple[str, str, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI links from a response's `source` field (a JSON pointer into its body) to the operations that take it
    as a path parameter: name=(method, path, parameter). Clients and the stateful fuzzing follow them."""
    out = {}
    for name, (method, path, parameter) in targets.items():
        ref = "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method
        out[name] = {"operationRef": ref, "parameters": {parameter: f"$response.body#{source}"}}
    return {status: {"links": out}}

