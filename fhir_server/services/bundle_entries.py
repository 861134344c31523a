"""Reading a batch or transaction Bundle into entries the processor can act on
(https://hl7.org/fhir/R4/http.html#transaction).

Each entry's `request` becomes a `BundleEntry`: the interaction its method and URL name (create,
update, conditional update, patch, delete, read, vread, search), its conditional headers and its
resource. Anything malformed is refused with 400 naming the entry (`Bundle.entry[3].request.url`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fhir_server.errors import BadRequest, FhirError, Issue, PayloadTooLarge
from fhir_server.services.bundle_errors import at_entry
from fhir_server.services.patch import JSON_PATCH
from fhir_server.services.preparation import check_id
from fhir_server.storage.instants import from_datetime
from resources import fhir_json, is_resource_type

__all__ = ["BundleEntry", "read_entries", "phase_order", "TEMPORARY_PREFIXES", "parse_criteria"]

TEMPORARY_PREFIXES = ("urn:uuid:", "urn:oid:")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# the order a transaction processes its entries in (https://hl7.org/fhir/R4/http.html#trules)
PHASES = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass(frozen=True, slots=True)
class BundleEntry:
    index: int
    method: str
    url: str
    res_type: str
    res_id: str | None = None
    version_id: str | None = None
    criteria: tuple[tuple[str, str], ...] = ()
    resource: Any = None
    full_url: str | None = None
    if_match: int | None = None
    if_none_match: int | None = None
    if_none_exist: tuple[tuple[str, str], ...] = ()
    if_modified_since: int | None = None
    patch: Any = None
    patch_type: str = JSON_PATCH

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def label(self) -> str:
        return f"Bundle.entry[{self.index}] ({self.method} {self.url})"

    @property
    def conditional(self) -> bool:
        return self.res_id is None and bool(self.criteria)


def _fail(where: str, message: str, code: str = "invalid") -> BadRequest:
    text = f"{where}: {message}"
    return BadRequest(text, code=code, issues=[Issue(code, text, expression=(where,))])


def parse_criteria(query: str) -> tuple[tuple[str, str], ...]:
    return tuple(parse_qsl(query, keep_blank_values=True))


def _etag(value: Any, where: str) -> int | None:
    if value is None:
        return None
    text = str(value).strip()
    text = text[2:] if text.startswith("W/") else text
    text = text.strip('"')
    if not text.isdigit():
        raise _fail(where, f'an ETag must name a version like W/"3", got {value!r}')
    return int(text)


def _instant(value: Any, where: str) -> int | None:
    if value is None:
        return None
    try:
        return from_datetime(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError as exc:
        raise _fail(where, f"'{value}' is not a FHIR instant") from exc


def _relative(url: Any, base_url: str, where: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise _fail(where, "request.url is required")
    url = url.strip()
    if base_url and url.startswith(base_url + "/"):
        return url[len(base_url) + 1:]
    if url.startswith(("http://", "https://")):
        raise _fail(where, f"'{url}' is not on this server ({base_url or 'a relative URL'} was expected)")
    return url.lstrip("/")


def _json_patch(resource: Any, where: str) -> tuple[Any, str]:
    """A PATCH entry carries its JSON Patch as a Binary (https://hl7.org/fhir/R4/http.html#patch)."""
    if not isinstance(resource, dict):
        raise _fail(where, "a PATCH entry needs a Binary resource holding the JSON Patch")
    if resource.get("resourceType") == "Parameters":
        return resource, "application/fhir+json"  # FHIRPath Patch: apply_patch answers 415
    if resource.get("resourceType") != "Binary":
        raise _fail(where, "a PATCH entry carries its patch as a Binary (JSON Patch) resource")
    if resource.get("contentType", "").split(";")[0].strip() != JSON_PATCH:
        raise _fail(where, f"the Binary of a PATCH entry must have contentType {JSON_PATCH}")
    try:
        return fhir_json.loads(base64.b64decode(resource.get("data", ""), validate=True)), JSON_PATCH
    except (binascii.Error, ValueError) as exc:
        raise _fail(where, f"the Binary data is not a base64 JSON Patch document: {exc}") from exc


def _entry(index: int, raw: Any, base_url: str) -> BundleEntry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict):
        raise _fail(where, "an entry must be a JSON object", "structure")
    request = raw.get("request")
    if not isinstance(request, dict):
        raise _fail(where, "every entry of a batch or transaction needs a request (method and url)", "required")
    method = request.get("method")
    if method not in METHODS:
        raise _fail(f"{where}.request.method", f"'{method}' is not one of {', '.join(METHODS)}")
    url = _relative(request.get("url"), base_url, f"{where}.request.url")
    path, _, query = url.partition("?")
    parts = [part for part in path.split("/") if part]
    if not parts or not is_resource_type(parts[0]):
        raise _fail(f"{where}.request.url", f"'{url}' does not name a resource type this server knows",
                    "not-supported")
    res_type = parts[0]
    full_url = raw.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        raise _fail(f"{where}.fullUrl", "fullUrl must be a string")
    resource = raw.get("resource")
    fields: dict[str, Any] = {"index": index, "method": method, "url": url, "res_type": res_type,
                              "full_url": full_url, "criteria": parse_criteria(query),
                              "if_match": _etag(request.get("ifMatch"), f"{where}.request.ifMatch")}
    shape = len(parts)
    if any(part.startswith("$") for part in parts):
        raise _fail(f"{where}.request.url", "operations are not supported inside a Bundle", "not-supported")
    if method in ("GET", "HEAD"):
        fields["if_none_match"] = _etag(request.get("ifNoneMatch"), f"{where}.request.ifNoneMatch")
        fields["if_modified_since"] = _instant(request.get("ifModifiedSince"), f"{where}.request.ifModifiedSince")
        if shape == 2 or (shape == 4 and parts[2] == "_history"):
            fields["res_id"] = check_id(parts[1])
            fields["version_id"] = parts[3] if shape == 4 else None
        elif shape != 1:
            raise _fail(f"{where}.request.url", f"'{url}' is not a read, vread or search", "not-supported")
        return BundleEntry(**fields)
    if method == "POST":
        if shape != 1 or query:
            raise _fail(f"{where}.request.url", "a create is POSTed to [type] alone")
        header = request.get("ifNoneExist")
        if header is not None:
            criteria = parse_criteria(str(header).split("?", 1)[-1])
            if not criteria:
                raise _fail(f"{where}.request.ifNoneExist", "ifNoneExist must carry search criteria")
            fields["if_none_exist"] = criteria
    elif shape == 2 and not query:
        fields["res_id"] = check_id(parts[1])
    elif shape != 1 or not query:
        raise _fail(f"{where}.request.url", f"{method} goes to [type]/[id] or to [type]?[criteria], not '{url}'")
    if method == "PATCH":
        fields["patch"], fields["patch_type"] = _json_patch(resource, f"{where}.resource")
    elif method in ("POST", "PUT"):
        if not isinstance(resource, dict):
            raise _fail(f"{where}.resource", f"a {method} entry needs a resource", "required")
        fields["resource"] = resource
    return BundleEntry(**fields)


def read_entries(bundle: Any, *, base_url: str, max_entries: int) -> tuple[str, list[BundleEntry]]:
    """The Bundle's type (`batch` or `transaction`) and its entries, in the order sent."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("POST to the base URL takes a Bundle of type batch or transaction", code="invalid")
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise BadRequest(f"a Bundle of type '{kind}' cannot be processed: only batch and transaction Bundles "
                         "can be POSTed to the base URL", code="invalid")
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise BadRequest("Bundle.entry must be an array", code="structure")
    if len(raw_entries) > max_entries:
        raise PayloadTooLarge(f"the Bundle has {len(raw_entries):,} entries, more than the {max_entries:,} "
                              "this server processes in one request; split it")
    entries = []
    for index, raw in enumerate(raw_entries):
        try:
            entries.append(_entry(index, raw, base_url))
        except FhirError as exc:
            raise at_entry(exc, index) from exc
    return kind, entries


def phase_order(entries: list[BundleEntry]) -> list[BundleEntry]:
    """DELETE, then POST, then PUT and PATCH, then GET and HEAD; the order sent within each."""
    return sorted(entries, key=lambda entry: (PHASES[entry.method], entry.index))
