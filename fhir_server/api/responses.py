"""Building FHIR responses: stored bytes served as they are, headers from the version row."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from fhir_server.api.negotiation import Negotiated, Prefer
from fhir_server.errors import Issue, operation_outcome
from fhir_server.services import ResourceVersion, WriteResult
from fhir_server.storage.instants import to_http_date
from resources import fhir_json

__all__ = ["fhir_response", "version_headers", "resource_response", "write_response"]


def fhir_response(body: bytes, negotiated: Negotiated, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    if negotiated.pretty and body:
        body = fhir_json.dumps_pretty(fhir_json.loads(body))
    all_headers = {"content-type": negotiated.content_type}
    if headers:
        all_headers.update(headers)
    return Response(body, status_code=status, headers=all_headers)


def version_headers(version: ResourceVersion) -> dict[str, str]:
    return {"etag": version.etag, "last-modified": to_http_date(version.last_updated)}


def resource_response(version: ResourceVersion, negotiated: Negotiated, *, transform: Any = None) -> Response:
    body = version.body or b""
    if transform is not None:
        body = fhir_json.dumps(transform(fhir_json.loads(body)))
    return fhir_response(body, negotiated, headers=version_headers(version))


def write_response(result: WriteResult, prefer: Prefer, negotiated: Negotiated, base_url: str,
                   *, informational: str) -> Response:
    version = result.version
    assert version is not None
    status = 201 if result.created else 200
    headers = version_headers(version)
    headers["location"] = f"{base_url}/{version.versioned_path}"
    if prefer.return_ == "minimal":
        return Response(b"", status_code=status, headers=headers)
    if prefer.return_ == "OperationOutcome":
        issues = [Issue("informational", informational, severity="information"), *result.issues]
        return fhir_response(orjson.dumps(operation_outcome(issues)), negotiated, status=status, headers=headers)
    return fhir_response(version.body or b"", negotiated, status=status, headers=headers)
