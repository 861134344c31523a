"""The batch-response / transaction-response Bundle: one entry per request entry, in the order sent,
each with `response.status`, `location`, `etag`, `lastModified` and `outcome`
(https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.response).

Stored resources are embedded as the bytes they are stored as, never parsed and serialised again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson

from fhir_server.context import RequestContext
from fhir_server.errors import FhirError, Issue, operation_outcome
from fhir_server.services.bundle_entries import BundleEntry
from fhir_server.services.outcome import ResourceVersion, WriteResult
from fhir_server.storage.instants import now_micros, to_instant

__all__ = ["EntryOutcome", "written", "failed", "response_bundle", "status_text"]

READS = ("GET", "HEAD")


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    """How one entry went: its HTTP status, the version it wrote or read, bytes to embed (a search
    result), and issues for `response.outcome`."""

    status: int
    version: ResourceVersion | None = None
    body: bytes | None = None
    issues: tuple[Issue, ...] = ()
    informational: str = ""
    error: bool = False


def status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def written(result: WriteResult, *, informational: str) -> EntryOutcome:
    if result.version is None or result.version.deleted:
        return EntryOutcome(204, result.version, informational=informational, issues=tuple(result.issues))
    return EntryOutcome(201 if result.created else 200, result.version, issues=tuple(result.issues),
                        informational=informational)


def failed(error: FhirError) -> EntryOutcome:
    return EntryOutcome(error.status, issues=tuple(error.issues), error=True)


def _entry(ctx: RequestContext, entry: BundleEntry, outcome: EntryOutcome, prefer_return: str) -> dict[str, Any]:
    response: dict[str, Any] = {"status": status_text(outcome.status)}
    version = outcome.version
    out: dict[str, Any] = {}
    if version is not None and not version.deleted:
        out["fullUrl"] = ctx.full_url(version.res_type, version.res_id)
    if version is not None:
        if entry.method not in READS and not version.deleted:
            response["location"] = f"{version.versioned_path}"
        response["etag"] = version.etag
        response["lastModified"] = to_instant(version.last_updated)
    body: bytes | None = None
    if entry.method in READS:
        if outcome.status == 200 and entry.method == "GET":
            body = outcome.body if outcome.body is not None else (version.body if version is not None else None)
    elif not outcome.error and prefer_return == "representation" and version is not None and not version.deleted:
        body = version.body
    if body is not None:
        out["resource"] = orjson.Fragment(body)
    if outcome.error:
        response["outcome"] = operation_outcome(list(outcome.issues))
    elif prefer_return == "OperationOutcome" and entry.method not in READS:
        informational = Issue("informational", outcome.informational or "done", severity="information")
        response["outcome"] = operation_outcome([informational, *outcome.issues])
    out["response"] = response
    return out


def response_bundle(ctx: RequestContext, kind: str, entries: list[BundleEntry], outcomes: dict[int, EntryOutcome],
                    prefer_return: str) -> bytes:
    """The `batch-response` or `transaction-response` Bundle as JSON bytes."""
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": to_instant(now_micros())},
        "type": kind,
        "entry": [_entry(ctx, entry, outcomes[entry.index], prefer_return) for entry in entries],
    }
    return orjson.dumps(bundle)
