"""Checking a resource a client sent and stamping it with the server's id and meta."""

from __future__ import annotations

import re
from typing import Any

from fhir_server.errors import BadRequest, InvalidResource, Issue, Unprocessable
from fhir_server.services.ports import Validator
from fhir_server.storage.instants import to_instant

__all__ = ["ID_PATTERN", "check_id", "check_shape", "check_valid", "stamp"]

ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# issues of these kinds break a rule of the content (a code outside its required value set, an
# invariant, a profile), not the resource's structure: 422 rather than 400 (https://hl7.org/fhir/R4/http.html)
UNPROCESSABLE_CODES = frozenset({"code-invalid", "invariant", "business-rule", "processing"})


def check_id(res_id: str) -> str:
    if not ID_PATTERN.fullmatch(res_id):
        raise BadRequest(f"'{res_id}' is not a valid resource id (1-64 of A-Z a-z 0-9 - .)")
    return res_id


def check_shape(resource: Any, res_type: str) -> dict[str, Any]:
    """The body must be a JSON object whose resourceType is the type the URL names."""
    if not isinstance(resource, dict):
        raise BadRequest("the request body must be a JSON object (a FHIR resource)", code="structure")
    found = resource.get("resourceType")
    if not isinstance(found, str):
        raise BadRequest("the resource has no resourceType", code="structure")
    if found != res_type:
        raise BadRequest(f"resourceType '{found}' does not match the type '{res_type}' of the URL", code="invalid")
    return resource


def check_valid(validator: Validator, resource: dict[str, Any]) -> list[Issue]:
    """Raise InvalidResource (400) or Unprocessable (422) on errors; return the warnings."""
    issues = validator(resource)
    errors = [issue for issue in issues if issue.severity in ("error", "fatal")]
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
        message = f"{resource.get('resourceType', 'resource')} failed validation with {count}: {errors[0].diagnostics}"
        if all(issue.code in UNPROCESSABLE_CODES for issue in errors):
            raise Unprocessable(message, issues=issues)
        raise InvalidResource(message, issues=issues)
    return issues


def stamp(resource: dict[str, Any], *, res_id: str, version_id: int, last_updated: int) -> dict[str, Any]:
    """resourceType, id and meta first, then the client's elements in their order, untouched.

    The client's meta (tags, profiles, security labels, source) is kept; versionId and lastUpdated
    are always the server's.
    """
    meta = dict(resource.get("meta") or {})
    meta.pop("_versionId", None)
    meta.pop("_lastUpdated", None)
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = to_instant(last_updated)
    stamped: dict[str, Any] = {"resourceType": resource["resourceType"], "id": res_id, "meta": meta}
    for key, value in resource.items():
        if key not in ("resourceType", "id", "meta", "_id"):
            stamped[key] = value
    return stamped
