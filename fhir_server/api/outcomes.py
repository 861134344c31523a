"""The one place a FhirError (or anything unexpected) becomes an HTTP response with an OperationOutcome."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.errors import FhirError, Issue, operation_outcome
from resources.fhir_json import FhirJsonError

__all__ = ["outcome_response", "handle_fhir_error", "handle_http_exception", "handle_unexpected", "EXCEPTION_HANDLERS"]

log = logging.getLogger("fhir_server.api")

HTTP_ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                    406: "not-supported", 409: "conflict", 410: "deleted", 412: "conflict", 413: "too-costly",
                    415: "not-supported", 422: "processing", 429: "throttled"}


def outcome_response(status: int, issues: list[Issue], headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(operation_outcome(issues))
    all_headers = {"content-type": "application/fhir+json; charset=utf-8", **(headers or {})}
    return Response(body, status_code=status, headers=all_headers)


async def handle_fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return outcome_response(exc.status, exc.issues, exc.headers)


async def handle_json_error(request: Request, exc: Exception) -> Response:
    return outcome_response(400, [Issue("structure", str(exc))])


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        text = f"no FHIR endpoint at {request.url.path}"
    elif exc.status_code == 405:
        text = f"{request.method} is not supported at {request.url.path}"
    else:
        text = str(exc.detail)
    return outcome_response(exc.status_code, [Issue(HTTP_ISSUE_CODES.get(exc.status_code, "processing"), text)],
                            dict(exc.headers or {}))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return outcome_response(500, [Issue("exception", "the server met an unexpected error; it has been logged",
                                        severity="fatal")])


EXCEPTION_HANDLERS = {
    FhirError: handle_fhir_error,
    FhirJsonError: handle_json_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
