"""`$export` at system, Patient and Group level (Bulk Data Access 2.0, https://hl7.org/fhir/uv/bulkdata/export.html).

    GET|POST [base]/$export                    everything
    GET|POST [base]/Patient/$export            the Patient compartment of every patient
    GET|POST [base]/Group/[id]/$export         the compartments of the group's patients

The kick-off needs `Prefer: respond-async` and answers 202 with `Content-Location`, the status URL
(`[base]/$export-status/[id]`, served by the API's bulk routes). Parameters: see `request.py`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fhir_server.bulk.manifest import status_path
from fhir_server.bulk.request import parse_export
from fhir_server.bulk.service import BulkExports
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, Issue, operation_outcome
from fhir_server.operations.registry import OperationCall, OperationResult

__all__ = ["DEFINITIONS", "ExportOperation", "SINGLE", "REPEATED"]

BULK = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition"
SINGLE = ("_outputFormat", "_since", "_deidentify")
REPEATED = ("_type", "_typeFilter", "_elements", "includeAssociatedData", "patient")


def _parameters(*, patient: bool) -> list[dict[str, Any]]:
    parameters = [
        {"name": "_outputFormat", "use": "in", "min": 0, "max": "1", "type": "string",
         "documentation": "application/fhir+ndjson (also application/ndjson, ndjson)"},
        {"name": "_since", "use": "in", "min": 0, "max": "1", "type": "instant",
         "documentation": "Only resources changed after this instant (and, at system level, the deletions)"},
        {"name": "_type", "use": "in", "min": 0, "max": "*", "type": "string",
         "documentation": "Comma-separated resource types to export"},
        {"name": "_elements", "use": "in", "min": 0, "max": "*", "type": "string",
         "documentation": "Elements to keep: element or Type.element (mandatory ones are kept too)"},
        {"name": "includeAssociatedData", "use": "in", "min": 0, "max": "*", "type": "code",
         "documentation": "RelevantProvenanceResources"},
        {"name": "_typeFilter", "use": "in", "min": 0, "max": "*", "type": "string",
         "documentation": "Type?criteria in this server's search grammar"},
        {"name": "_deidentify", "use": "in", "min": 0, "max": "1", "type": "code",
         "documentation": "safe-harbor | date-shift: a de-identified research extract (this server's extension)"},
    ]
    if patient:
        parameters.append({"name": "patient", "use": "in", "min": 0, "max": "*", "type": "Reference",
                           "documentation": "POST only: export these patients' data only"})
    return parameters


def _definition(definition_id: str, *, level: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationDefinition",
        "id": definition_id,
        "url": f"{BULK}/{definition_id}",
        "name": {"export": "BulkDataExport", "patient-export": "PatientLevelExport",
                 "group-export": "GroupLevelExport"}[definition_id],
        "status": "active",
        "kind": "operation",
        "code": "export",
        "resource": {"system": [], "patient": ["Patient"], "group": ["Group"]}[level] or ["Resource"],
        "system": level == "system",
        "type": level == "patient",
        "instance": level == "group",
        "affectsState": False,
        "parameter": _parameters(patient=level != "system"),
    }


DEFINITIONS = (_definition("export", level="system"), _definition("patient-export", level="patient"),
               _definition("group-export", level="group"))


def _prefer(headers: dict[str, str]) -> set[str]:
    header = next((value for key, value in headers.items() if key.lower() == "prefer"), "")
    return {token.strip().lower().replace(" ", "") for part in header.split(",") for token in part.split(";")}


class ExportOperation:
    def __init__(self, exports: BulkExports) -> None:
        self.exports = exports

    async def __call__(self, ctx: RequestContext, call: OperationCall) -> OperationResult:
        prefer = _prefer(call.headers)
        if "respond-async" not in prefer:
            raise BadRequest("$export runs asynchronously: send the header Prefer: respond-async", code="required")
        level = "system" if call.level == "system" else "patient" if call.res_type == "Patient" else "group"
        if call.method == "GET" and call.inputs.has("patient"):
            raise BadRequest("the patient parameter can only be sent with POST")
        single = {name: call.inputs.value(name) for name in SINGLE if call.inputs.has(name)}
        lists = {name: call.inputs.values(name) for name in REPEATED if call.inputs.has(name)}
        request = parse_export(level=level, group_id=call.res_id, single=single, lists=lists,
                               lenient="handling=lenient" in prefer, base_url=ctx.base_url)
        export_id = await self.exports.kick_off(ctx, request, request_url=self._request_url(ctx, call))
        accepted = operation_outcome([Issue("informational", f"export {export_id} accepted; poll the "
                                            "Content-Location URL for its status", severity="information")])
        return OperationResult(accepted, status=202,
                               headers={"content-location": f"{ctx.base_url}/{status_path(export_id)}"})

    @staticmethod
    def _request_url(ctx: RequestContext, call: OperationCall) -> str:
        path = {"system": "", "type": f"{call.res_type}/", "instance": f"{call.res_type}/{call.res_id}/"}[call.level]
        pairs = [(name, str(value)) for name in (*SINGLE, *REPEATED) if name != "patient"
                 for value in call.inputs.values(name)]
        return f"{ctx.base_url}/{path}$export" + (f"?{urlencode(pairs)}" if pairs else "")
