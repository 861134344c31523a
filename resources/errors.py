"""The one error root of the server.

    FhirError(status, code, diagnostics)
     ├── BadRequest            400  invalid / structure / value / required / not-supported
     │    └── InvalidResource  400  the resource fails validation (carries every issue found)
     ├── Unauthorized          401  login
     ├── Forbidden             403  forbidden
     ├── NotFound              404  not-found
     ├── MethodNotAllowed      405  not-supported
     ├── NotAcceptable         406  not-supported
     ├── VersionConflict       409  conflict
     ├── Gone                  410  deleted
     ├── PreconditionFailed    412  conflict   (If-Match, multiple matches of a conditional interaction)
     │    └── MultipleMatches  412  multiple-matches
     ├── PayloadTooLarge       413  too-costly
     ├── UnsupportedMediaType  415  not-supported
     ├── Unprocessable         422  processing / business-rule
     └── TooManyRequests       429  throttled

Only the HTTP layer (`fhir_server.api.outcomes`) turns these into OperationOutcome responses; the
HL7 gateway maps them to AE/AR ACKs; the CLI prints them. Each carries the OperationOutcome
issue-type `code` (http://hl7.org/fhir/issue-type) and may carry several issues.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Issue", "FhirError", "BadRequest", "InvalidResource", "Unauthorized", "Forbidden", "NotFound",
    "MethodNotAllowed", "NotAcceptable", "VersionConflict", "Gone", "PreconditionFailed",
    "MultipleMatches", "PayloadTooLarge", "UnsupportedMediaType", "Unprocessable", "TooManyRequests",
    "ServiceUnavailable", "operation_outcome",
]


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue: severity, issue-type code, human text and where (FHIRPath)."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


def operation_outcome(issues: list[Issue] | tuple[Issue, ...]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [issue.to_json() for issue in issues]}


class FhirError(Exception):
    status: int = 500
    code: str = "exception"

    def __init__(self, diagnostics: str, *, code: str | None = None, issues: list[Issue] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        if code is not None:
            self.code = code
        self.issues: list[Issue] = issues or [Issue(self.code, diagnostics)]
        self.headers = headers or {}

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


class BadRequest(FhirError):
    status, code = 400, "invalid"


class InvalidResource(BadRequest):
    code = "structure"


class Unauthorized(FhirError):
    status, code = 401, "login"


class Forbidden(FhirError):
    status, code = 403, "forbidden"


class NotFound(FhirError):
    status, code = 404, "not-found"


class MethodNotAllowed(FhirError):
    status, code = 405, "not-supported"


class NotAcceptable(FhirError):
    status, code = 406, "not-supported"


class VersionConflict(FhirError):
    status, code = 409, "conflict"


class Gone(FhirError):
    status, code = 410, "deleted"


class PreconditionFailed(FhirError):
    status, code = 412, "conflict"


class MultipleMatches(PreconditionFailed):
    code = "multiple-matches"


class PayloadTooLarge(FhirError):
    status, code = 413, "too-costly"


class UnsupportedMediaType(FhirError):
    status, code = 415, "not-supported"


class Unprocessable(FhirError):
    status, code = 422, "processing"


class TooManyRequests(FhirError):
    status, code = 429, "throttled"


class ServiceUnavailable(FhirError):
    status, code = 503, "transient"
