"""The Bulk Data completion manifest (https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status).

    {"transactionTime": ..., "request": kick-off URL, "requiresAccessToken": true,
     "output": [{"type": "Patient", "url": "[base]/$export-file/{id}/Patient-1.ndjson", "count": 12}],
     "deleted": [...], "error": [{"type": "OperationOutcome", "url": ...}]}

`deleted` lists transaction Bundles of the resources deleted after `_since` (system level);
a de-identified export says how in `extension`.
"""

from __future__ import annotations

from typing import Any

from fhir_server.bulk.progress import DELETED, ERROR, OUTPUT
from fhir_server.bulk.records import ExportRecord
from fhir_server.storage.instants import to_instant

__all__ = ["manifest", "status_path", "file_path", "DEIDENTIFICATION_URL"]

DEIDENTIFICATION_URL = "https://fhir-server.dev/fhir/StructureDefinition/bulk-deidentification"


def status_path(export_id: str) -> str:
    """The status URL of an export, relative to [base]."""
    return f"$export-status/{export_id}"


def file_path(export_id: str, name: str) -> str:
    return f"$export-file/{export_id}/{name}"


def manifest(record: ExportRecord, base_url: str) -> dict[str, Any]:
    state = record.state

    def listed(kind: str) -> list[dict[str, Any]]:
        return [{"type": "Bundle" if kind == DELETED else entry.type,
                 "url": f"{base_url}/{file_path(record.id, entry.name)}", "count": entry.count}
                for entry in state.files if entry.kind == kind and entry.count]

    out: dict[str, Any] = {
        "transactionTime": to_instant(record.transaction_time),
        "request": record.request,
        "requiresAccessToken": True,
        "output": listed(OUTPUT),
    }
    deleted = listed(DELETED)
    if deleted:
        out["deleted"] = deleted
    out["error"] = [{"type": "OperationOutcome", "url": item["url"]} for item in listed(ERROR)]
    if record.parameters.deidentify:
        out["extension"] = {DEIDENTIFICATION_URL: record.parameters.deidentify}
    return out
