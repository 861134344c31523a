"""The CapabilityStatement, generated from what the running server really supports
(https://hl7.org/fhir/R4/capabilitystatement.html). Callers describe their support; nothing here is
claimed that the caller did not pass in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ServerSupport", "SearchParamSupport", "OperationSupport", "capability_statement", "STATEMENT_DATE"]

# the `date` of the statements: when what they describe last changed
STATEMENT_DATE = "2026-01-01"


@dataclass(frozen=True, slots=True)
class SearchParamSupport:
    name: str
    type: str
    definition: str | None = None
    documentation: str | None = None


@dataclass(frozen=True, slots=True)
class OperationSupport:
    """One $operation: its name, the canonical URL of its OperationDefinition, and where it applies
    (`resource_types` empty for system level; `Resource` for every type)."""

    name: str
    definition: str
    system: bool = False
    resource_types: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ServerSupport:
    software_name: str
    software_version: str
    resource_types: Sequence[str]
    type_interactions: Sequence[str]
    system_interactions: Sequence[str]
    formats: Sequence[str] = ("application/fhir+json", "json")
    patch_formats: Sequence[str] = ("application/json-patch+json",)
    versioning: str = "versioned-update"
    read_history: bool = True
    update_create: bool = True
    conditional_create: bool = True
    conditional_read: str = "full-support"
    conditional_update: bool = True
    conditional_delete: str = "multiple"
    search_params: Mapping[str, Sequence[SearchParamSupport]] = field(default_factory=dict)
    common_search_params: Sequence[SearchParamSupport] = ()
    search_include: Mapping[str, Sequence[str]] = field(default_factory=dict)
    search_rev_include: Mapping[str, Sequence[str]] = field(default_factory=dict)
    operations: Sequence[OperationSupport] = ()
    implementation_url: str | None = None
    security: Mapping[str, Any] | None = None
    date: str = STATEMENT_DATE


def _params(params: Iterable[SearchParamSupport]) -> list[dict[str, Any]]:
    out = []
    for p in params:
        entry: dict[str, Any] = {"name": p.name, "type": p.type}
        if p.definition:
            entry["definition"] = p.definition
        if p.documentation:
            entry["documentation"] = p.documentation
        out.append(entry)
    return out


def capability_statement(support: ServerSupport) -> dict[str, Any]:
    resources = []
    for res_type in support.resource_types:
        entry: dict[str, Any] = {
            "type": res_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{res_type}",
            "interaction": [{"code": code} for code in support.type_interactions],
            "versioning": support.versioning,
            "readHistory": support.read_history,
            "updateCreate": support.update_create,
            "conditionalCreate": support.conditional_create,
            "conditionalRead": support.conditional_read,
            "conditionalUpdate": support.conditional_update,
            "conditionalDelete": support.conditional_delete,
        }
        if support.search_include.get(res_type):
            entry["searchInclude"] = list(support.search_include[res_type])
        if support.search_rev_include.get(res_type):
            entry["searchRevInclude"] = list(support.search_rev_include[res_type])
        if support.search_params.get(res_type):
            entry["searchParam"] = _params(support.search_params[res_type])
        operations = [{"name": op.name, "definition": op.definition} for op in support.operations
                      if res_type in op.resource_types or "Resource" in op.resource_types]
        if operations:
            entry["operation"] = operations
        resources.append(entry)
    rest: dict[str, Any] = {
        "mode": "server",
        "resource": resources,
        "interaction": [{"code": code} for code in support.system_interactions],
    }
    if support.common_search_params:
        rest["searchParam"] = _params(support.common_search_params)
    system_operations = [{"name": op.name, "definition": op.definition} for op in support.operations if op.system]
    if system_operations:
        rest["operation"] = system_operations
    if support.security:
        rest["security"] = dict(support.security)
    statement: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": support.date,
        "publisher": support.software_name,
        "kind": "instance",
        "software": {"name": support.software_name, "version": support.software_version},
        "implementation": {"description": f"{support.software_name} FHIR R4 endpoint"},
        "fhirVersion": "4.0.1",
        "format": list(support.formats),
        "patchFormat": list(support.patch_formats),
        "rest": [rest],
    }
    if support.implementation_url:
        statement["implementation"]["url"] = support.implementation_url
    return statement
