"""Patch documents applied to a resource: JSON Patch (RFC 6902) with `jsonpatch`.

https://hl7.org/fhir/R4/http.html#patch. FHIRPath Patch (a Parameters body) is refused with 415
until it is implemented; XML Patch is not offered since the server speaks JSON only.
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from fhir_server.errors import BadRequest, Unprocessable, UnsupportedMediaType

__all__ = ["JSON_PATCH", "apply_patch"]

JSON_PATCH = "application/json-patch+json"


def apply_patch(resource: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != JSON_PATCH:
        raise UnsupportedMediaType(
            f"PATCH takes a JSON Patch document ({JSON_PATCH}); '{media_type or 'no content type'}' is not supported"
        )
    if not isinstance(patch, list) or not all(isinstance(op, dict) for op in patch):
        raise BadRequest("a JSON Patch document is an array of operation objects")
    try:
        result = jsonpatch.JsonPatch(patch).apply(resource, in_place=False)
    except jsonpatch.InvalidJsonPatch as exc:
        raise BadRequest(f"invalid JSON Patch: {exc}") from exc
    except jsonpatch.JsonPatchTestFailed as exc:
        raise Unprocessable(f"JSON Patch test failed: {exc}", code="processing") from exc
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException) as exc:
        raise Unprocessable(f"JSON Patch cannot be applied: {exc}", code="processing") from exc
    if not isinstance(result, dict):
        raise Unprocessable("the patched document is not a resource")
    return result
