"""Which resources an export contains: per resource type, the filters of its scan.

- System level: every type (or `_type`), all resources; deletions after `_since` are reported.
- Patient level: the Patient compartment (https://hl7.org/fhir/R4/compartmentdefinition-patient.html)
  of every patient: a resource is in it when one of its compartment parameters (the `search_reference`
  index) points at a Patient; Patients themselves.
- Group level: the compartments of the group's patients: `Group.member.entity` (the Group's own
  `member` index rows) for an actual group; for a group defined by characteristics, the
  `member-filter` extensions (Bulk Data cohorts: `valueExpression` with a `Patient?criteria` query in
  this server's search grammar) and the `characteristic`s search can express (`characteristics.py`);
  all of them must match. Other characteristics are refused.
- `patient` (POST) narrows either to the patients named; `_typeFilter` queries narrow a type
  (several for one type: any may match); `RelevantProvenanceResources` adds the Provenance whose
  `target` is one of the exported resources.

Filters are SQLAlchemy `Select`s of `resources.pk` the scan keeps a version's resource among.
Compartment and filters follow the current index, i.e. membership is judged on each resource's
current version, while the exported content is the version current at transactionTime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Select, and_, false, or_, select

from fhir_server.bulk.characteristics import characteristic_criteria
from fhir_server.bulk.request import ExportRequest, compartment_types
from fhir_server.db.tables import resources, search_reference
from fhir_server.errors import BadRequest, Gone, NotFound
from fhir_server.search import ResultParams, SearchRegistry, compile_query, parse_query
from fhir_server.search.code_sets import CodeSets, resolve_codes
from fhir_server.storage.repository import ResourceStore, Tx
from resources import fhir_json

__all__ = ["TypePlan", "ExportPlanner", "MEMBER_FILTER_URL"]

MEMBER_FILTER_URL = "http://hl7.org/fhir/uv/bulkdata/StructureDefinition/member-filter"
PROVENANCE = "Provenance"


@dataclass(frozen=True, slots=True)
class TypePlan:
    res_type: str
    filters: tuple[Select[Any], ...] = ()
    deletions: bool = False


class ExportPlanner:
    def __init__(self, store: ResourceStore, registry: SearchRegistry, codes: CodeSets | None = None) -> None:
        self.store = store
        self.registry = registry
        # the terminology, settable once it exists: `:in`, `:not-in`, `:above`, `:below` in filters
        self.codes = codes

    # -- the types -----------------------------------------------------------------------------

    async def types(self, tx: Tx, request: ExportRequest) -> list[str]:
        """The types to export, in order: those asked for (or every type with current resources,
        limited to the compartment's at Patient and Group level), then Provenance if associated."""
        if request.types is not None:
            chosen = list(request.types)
        else:
            if request.level == "system" and request.since is not None:  # deletions are reported too
                rows = await tx.db.fetch("SELECT DISTINCT res_type FROM resources")
            else:
                rows = await tx.db.fetch("SELECT DISTINCT res_type FROM resources WHERE deleted = $1", False)
            present = sorted(row[0] for row in rows)
            chosen = present if request.level == "system" else [t for t in present if t in compartment_types()]
        if "RelevantProvenanceResources" in request.include_associated and PROVENANCE not in chosen:
            chosen.append(PROVENANCE)
        return chosen

    # -- the filters ---------------------------------------------------------------------------

    async def plans(self, tx: Tx, request: ExportRequest, types: list[str]) -> list[TypePlan]:
        patients = await self._patients(tx, request)
        base = {t: self._base_filters(t, request, patients) for t in types}
        plans = []
        for res_type in types:
            if res_type == PROVENANCE and request.types is not None and PROVENANCE not in request.types:
                plans.append(TypePlan(res_type, (self._provenance_of(base, types),)))
                continue
            filters = list(base[res_type])
            if res_type in request.type_filters:
                filters.append(self.type_filter(res_type, request.type_filters[res_type]))
            deletions = request.level == "system" and not filters and request.since is not None
            plans.append(TypePlan(res_type, tuple(filters), deletions))
        return plans

    def _base_filters(self, res_type: str, request: ExportRequest, patients: Select[Any] | None) -> list[Select[Any]]:
        if request.level == "system":
            return []
        r = resources
        if res_type == "Patient":
            return [] if patients is None else [select(r.c.pk).where(r.c.res_type == "Patient",
                                                                     r.c.res_id.in_(patients))]
        params = compartment_types().get(res_type)
        if not params:
            return [select(r.c.pk).where(false())]
        ref = search_reference
        members = select(ref.c.resource_pk).where(ref.c.res_type == res_type, ref.c.param.in_(params),
                                                  ref.c.target_type == "Patient")
        if patients is not None:
            members = members.where(ref.c.target_id.in_(patients))
        return [members]

    def _query(self, res_type: str, text: str) -> Any:
        """A `_typeFilter` or member-filter query, its terminology modifiers (`:in`, `:below`...) resolved."""
        return resolve_codes(parse_query(self.registry, res_type, parse_qsl(text, keep_blank_values=True)), self.codes)

    def type_filter(self, res_type: str, queries: tuple[str, ...]) -> Select[Any]:
        selects = []
        for text in queries:
            query = self._query(res_type, text)
            if query.result != ResultParams():
                raise BadRequest(f"_typeFilter '{res_type}?{text}' may hold search criteria only")
            selects.append(compile_query(query))
        if len(selects) == 1:
            return selects[0]
        return select(resources.c.pk).where(or_(*(resources.c.pk.in_(s) for s in selects)))

    def _provenance_of(self, base: dict[str, list[Select[Any]]], types: list[str]) -> Select[Any]:
        """Provenance whose `target` is a resource of an exported type that passes that type's filters."""
        ref, target = search_reference.alias("target_ref"), resources.alias("target")
        alternatives = []
        for res_type in types:
            if res_type == PROVENANCE:
                continue
            condition = [ref.c.target_type == res_type]
            if base[res_type]:
                condition.append(target.c.pk.in_(base[res_type][0]))
            alternatives.append(condition)
        if not alternatives:
            return select(resources.c.pk).where(false())
        return (select(ref.c.resource_pk)
                .select_from(ref.join(target, (target.c.res_type == ref.c.target_type)
                                      & (target.c.res_id == ref.c.target_id)))
                .where(ref.c.res_type == PROVENANCE, ref.c.param == "target",
                       or_(*(and_(*condition) for condition in alternatives))))

    # -- the patients --------------------------------------------------------------------------

    async def _patients(self, tx: Tx, request: ExportRequest) -> Select[Any] | None:
        """A `Select` of the Patient ids the export covers; None: every patient."""
        r = resources
        chosen: Select[Any] | None = None
        if request.level == "group":
            chosen = await self.group_members(tx, request.group_id or "")
        if request.patients:
            named = select(r.c.res_id).where(r.c.res_type == "Patient", r.c.res_id.in_(list(request.patients)))
            chosen = named if chosen is None else named.where(r.c.res_id.in_(chosen))
        return chosen

    async def group_members(self, tx: Tx, group_id: str) -> Select[Any]:
        """A `Select` of the ids of the Group's patients; NotFound / Gone for a missing group."""
        row = await self.store.current(tx, "Group", group_id)
        if row is None:
            raise NotFound(f"Group/{group_id} is not known")
        if row.deleted or row.body is None:
            raise Gone(f"Group/{group_id} was deleted")
        group = fhir_json.loads(row.body)
        filters = [ext for ext in group.get("modifierExtension", []) + group.get("extension", [])
                   if isinstance(ext, dict) and ext.get("url") == MEMBER_FILTER_URL]
        if filters or group.get("actual") is False:
            return self._filtered_members(group_id, group, filters)
        ref = search_reference
        return select(ref.c.target_id).where(ref.c.resource_pk == row.pk, ref.c.param == "member",
                                             ref.c.target_type == "Patient")

    def _filtered_members(self, group_id: str, group: dict[str, Any], filters: list[dict[str, Any]]) -> Select[Any]:
        queries = characteristic_criteria(self.registry, group_id, group)
        for extension in filters:
            expression = (extension.get("valueExpression") or {}).get("expression")
            res_type, mark, text = str(expression or "").partition("?")
            if res_type != "Patient" or not mark:
                raise BadRequest(f"Group/{group_id}: a member-filter must be a Patient?criteria query, got "
                                 f"{expression!r}", code="not-supported")
            queries.append(text)
        if not queries:
            raise BadRequest(f"Group/{group_id} has neither members nor characteristics or member-filter expressions")
        r = resources
        members = select(r.c.res_id).where(r.c.res_type == "Patient", r.c.deleted.is_(false()))
        for text in queries:
            query = self._query("Patient", text)
            members = members.where(r.c.pk.in_(compile_query(query)))
        return members
