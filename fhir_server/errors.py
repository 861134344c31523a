"""The server's error tree. It lives in `resources.errors`, the lowest layer, so that every package
(terminology, conformance, the gateway, the pipeline) raises the same errors; this module is the
name the server's own code imports them by."""

from resources.errors import (
    BadRequest,
    FhirError,
    Forbidden,
    Gone,
    InvalidResource,
    Issue,
    MethodNotAllowed,
    MultipleMatches,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    VersionConflict,
    operation_outcome,
)

__all__ = [
    "Issue", "FhirError", "BadRequest", "InvalidResource", "Unauthorized", "Forbidden", "NotFound",
    "MethodNotAllowed", "NotAcceptable", "VersionConflict", "Gone", "PreconditionFailed",
    "MultipleMatches", "PayloadTooLarge", "UnsupportedMediaType", "Unprocessable", "TooManyRequests",
    "ServiceUnavailable",     "operation_outcome",
]
