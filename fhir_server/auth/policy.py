"""The one place that decides allow, deny or filter for (principal, interaction, type, resource or query).

The service layer calls, for every interaction:

    policy.check_interaction(principal, interaction, res_type)            # before anything: Forbidden or None
    await policy.compartment_filter(principal, res_type)                   # searches and histories: None or a SearchFilter
    await policy.check_resource(principal, interaction, resource)          # each resource read or written

`interaction` is one of `scopes.PERMISSION_OF` (read, vread, history-instance, search-type,
search-system, history-type, history-system, create, update, patch, delete) or "operation" (with
`operation="$name"`). Conditional interactions also need `search-type`; an update or patch is checked
on the stored resource and on the new one; `_include`d resources and each type of a system search go
through the same calls.

Decisions, in order:

1. `unrestricted` principals (dev mode) may do anything.
2. The role: admin sees AuditEvent only (read, search); analyst reads and searches only (and runs the
   read-only and analytics operations); a patient needs a patient in context.
3. The scopes: some scope must grant the interaction's permission on the type (`scopes.py`).
4. Who the data is about. A grant is limited to patients when its level is `patient/` (the token's
   patient), when the role is `patient` (their own), or when the role is `trainee` (the patients linked
   to their supervisor, from the injected `LinkedPatients`). Limited grants see the Patient compartment
   of those patients (`compartment.py`): compartment types through their compartment parameters,
   Patient by id (or `link`), Device when it names no patient or one of them, the shared reference types
   (Practitioner, Organization, Location, Medication, terminology...) for read and search only, and no
   other type. `user/` grants of doctors and analysts and `system/` grants are not limited.
5. Granular scopes (`?category=...`) add their criteria to the grant's limit.

A resource is allowed when at least one grant allows it; a search sees the union of what its grants
see, as a `SearchFilter` in disjunctive normal form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fhir_server.auth.compartment import compartment_params, is_shared_type
from fhir_server.auth.roles import ADMIN_TYPES, READ_ONLY, Role
from fhir_server.auth.scopes import PERMISSION_OF, ClinicalScope, scope_set
from fhir_server.context import Principal
from fhir_server.errors import Forbidden
from fhir_server.search.normalize import normalize

__all__ = [
    "AccessPolicy", "SearchFilter", "LinkedPatients", "IndexRowsOf", "RowCodesOf", "definition_row_codes",
    "check_interaction", "READ_OPERATIONS", "ANALYTICS_OPERATIONS", "WRITE_PERMISSIONS",
]

Criteria = tuple[tuple[str, str], ...]
LinkedPatients = Callable[[Principal], Awaitable[frozenset[str]]]
IndexRowsOf = Callable[[dict[str, Any]], Mapping[str, Sequence[Mapping[str, Any]]]]
# (resource type, parameter code) -> the codes its index rows are written under (`SearchParam.row_codes`)
RowCodesOf = Callable[[str, str], tuple[str, ...]]


@lru_cache(maxsize=512)
def definition_row_codes(res_type: str, code: str) -> tuple[str, ...]:
    """`RowCodesOf` by the official R4 parameters: combo-code's rows are those of code and component-code."""
    from fhir_server.wiring import search_registry  # the search engine, not loaded for the policy alone

    return search_registry().row_codes(res_type, code)

WRITE_PERMISSIONS = frozenset("cud")
# operations that only read: they need `r` on an instance, `s` on a type or the system
READ_OPERATIONS = frozenset({
    "$everything", "$export", "$lastn", "$stats", "$meta", "$expand", "$lookup", "$validate-code",
    "$translate", "$subsumes", "$document", "$summary", "$validate", "$closure", "$evaluate-measure", "$mortality",
})
ANALYTICS_OPERATIONS = frozenset({"$export", "$analytics", "$mortality", "$evaluate-measure", "$stats", "$lastn"})


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What a search may see: a resource matches when it meets every criterion of at least one
    alternative (criteria as `(param, value)`, the search grammar's own, e.g. `("subject", "Patient/1")`,
    `("patient:missing", "true")`, `("category", "http://...|laboratory")`, commas meaning "or").
    No alternatives: nothing is visible."""

    alternatives: tuple[Criteria, ...]

    @property
    def nothing(self) -> bool:
        return not self.alternatives


def _permission(interaction: str, operation: str | None, instance: bool) -> str:
    if interaction == "operation":
        if operation in READ_OPERATIONS:
            return "r" if instance else "s"
        return "u" if instance else "c"
    permission = PERMISSION_OF.get(interaction)
    if permission is None:
        raise Forbidden(f"'{interaction}' is not an interaction the access policy knows")
    return permission


def _check_role(principal: Principal, interaction: str, res_type: str | None, permission: str,
                operation: str | None) -> None:
    role = principal.role
    if role == Role.ADMIN:
        if res_type not in ADMIN_TYPES or permission not in READ_ONLY or interaction == "operation":
            raise Forbidden("administrators may read and search AuditEvents only, not clinical data")
    elif role == Role.ANALYST:
        if interaction == "operation":
            if operation not in ANALYTICS_OPERATIONS and operation not in READ_OPERATIONS:
                raise Forbidden(f"analysts may not run {operation}")
        elif permission not in READ_ONLY:
            raise Forbidden("analysts may read and search, not write")
    elif role == Role.PATIENT and not principal.patient:
        raise Forbidden("a patient's token must carry the patient in context")


def _usable(principal: Principal, scope: ClinicalScope) -> bool:
    if scope.level == "system":  # a backend service, or an analyst's system
        return principal.role in (Role.SYSTEM, Role.ANALYST)
    if principal.role == Role.SYSTEM:
        return False
    return scope.level == "user" or bool(principal.patient)


@lru_cache(maxsize=8192)
def _grants(principal: Principal, interaction: str, res_type: str | None, *, operation: str | None = None,
            instance: bool = False) -> tuple[ClinicalScope, ...]:
    """The grants of `principal` allowing the interaction (cached: a token asks the same many times;
    a refusal is not cached and raises again)."""
    permission = _permission(interaction, operation, instance)
    _check_role(principal, interaction, res_type, permission, operation)
    scopes = scope_set(principal.scopes)
    if res_type is None and interaction == "operation":
        # a system-level operation ($export...) needs the permission on some type; the operation
        # itself keeps to the types the scopes allow
        grants = tuple(g for g in scopes.clinical if permission in g.permissions and _usable(principal, g))
    else:
        grants = tuple(g for g in scopes.grants(res_type, permission) if _usable(principal, g))
    if not grants:
        target = res_type or "every type"
        what = operation if interaction == "operation" else interaction
        raise Forbidden(f"the token's scopes do not allow {what} on {target}")
    return grants


def _limited(principal: Principal, grant: ClinicalScope) -> bool:
    """Whether the grant is limited to some patients."""
    return grant.level == "patient" or principal.role in (Role.PATIENT, Role.TRAINEE)


def check_interaction(principal: Principal, interaction: str, res_type: str | None, *,
                      operation: str | None = None, instance: bool = False) -> None:
    """Forbidden unless the role and the scopes allow `interaction` on `res_type` (None: system level)."""
    if principal.unrestricted:
        return
    grants = _grants(principal, interaction, res_type, operation=operation, instance=instance)
    permission = _permission(interaction, operation, instance)
    if permission in WRITE_PERMISSIONS and res_type is not None and not compartment_params(res_type) \
            and res_type != "Device" and all(_limited(principal, g) for g in grants):
        raise Forbidden(f"{res_type} is shared data: tokens limited to patients may not write it")


class AccessPolicy:
    """The policy with what it needs injected: the indexer (search index rows of a resource, to tell
    compartments and granular scopes) and the trainees' linked patients."""

    def __init__(self, *, index_rows: IndexRowsOf, linked_patients: LinkedPatients | None = None,
                 row_codes: RowCodesOf = definition_row_codes) -> None:
        self.index_rows = index_rows
        self.linked_patients = linked_patients
        self.row_codes = row_codes

    check_interaction = staticmethod(check_interaction)

    def content_matters(self, principal: Principal, interaction: str, res_type: str, *,
                        operation: str | None = None) -> bool:
        """Whether `check_resource` needs to look at the resource: False when some grant allowing the
        interaction is neither limited to patients nor narrowed by a query (then the type decides)."""
        if principal.unrestricted:
            return False
        grants = _grants(principal, interaction, res_type, operation=operation, instance=True)
        return all(_limited(principal, g) or g.query for g in grants)

    # -- whose data ---------------------------------------------------------------------------

    async def patients_of(self, principal: Principal, grant: ClinicalScope) -> frozenset[str] | None:
        """The patient ids a grant is limited to; None when it is not limited."""
        if not _limited(principal, grant):
            return None
        if principal.role == Role.TRAINEE:
            linked = await self._linked(principal)
            if grant.level == "patient":
                return frozenset({principal.patient}) & linked if principal.patient else frozenset()
            return linked
        return frozenset({principal.patient}) if principal.patient else frozenset()

    async def _linked(self, principal: Principal) -> frozenset[str]:
        if self.linked_patients is None:
            return frozenset()
        return await self.linked_patients(principal)

    async def visible_patients(self, principal: Principal) -> frozenset[str] | None:
        """The patients whose data the principal may see at all (None: every patient)."""
        if principal.unrestricted or principal.role in (Role.DOCTOR, Role.ANALYST, Role.SYSTEM):
            return None
        if principal.role == Role.TRAINEE:
            linked = await self._linked(principal)
            return frozenset({principal.patient}) & linked if principal.patient else linked
        if principal.role == Role.PATIENT:
            return frozenset({principal.patient}) if principal.patient else frozenset()
        return frozenset()

    async def check_patient_access(self, principal: Principal, patient_id: str) -> None:
        """Forbidden unless the principal may see Patient/`patient_id` (a launch, a picked patient)."""
        visible = await self.visible_patients(principal)
        if visible is not None and patient_id not in visible:
            raise Forbidden(f"Patient/{patient_id} is not a patient this user may see")

    # -- searches -----------------------------------------------------------------------------

    async def compartment_filter(self, principal: Principal, res_type: str, *,
                                 interaction: str = "search-type") -> SearchFilter | None:
        """The criteria a search or history of `res_type` must be narrowed with; None: no narrowing."""
        if principal.unrestricted:
            return None
        check_interaction(principal, interaction, res_type)
        alternatives: list[Criteria] = []
        refusal: Forbidden | None = None
        grants = _grants(principal, interaction, res_type)
        for grant in grants:
            patients = await self.patients_of(principal, grant)
            try:
                limits = _patient_limits(res_type, patients)
            except Forbidden as exc:
                refusal = exc
                continue
            if limits is None:
                if not grant.query:
                    return None
                limits = [()]
            for limit in limits:
                criteria = limit + grant.query
                if criteria not in alternatives:
                    alternatives.append(criteria)
        if refusal is not None and not alternatives:
            raise refusal
        return SearchFilter(tuple(alternatives))

    # -- one resource -------------------------------------------------------------------------

    async def check_resource(self, principal: Principal, interaction: str, resource: Mapping[str, Any], *,
                             operation: str | None = None) -> None:
        """Forbidden unless some grant allows `interaction` on this very resource (read or written)."""
        if principal.unrestricted:
            return
        res_type = str(resource.get("resourceType", ""))
        check_interaction(principal, interaction, res_type, operation=operation, instance=True)
        permission = _permission(interaction, operation, True)
        rows: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
        for grant in _grants(principal, interaction, res_type, operation=operation, instance=True):
            patients = await self.patients_of(principal, grant)
            if rows is None and (patients is not None or grant.query):
                rows = self.index_rows(dict(resource))
            if patients is not None and not _belongs(resource, rows or {}, patients, permission):
                continue
            if grant.query and not all(_meets(rows or {}, self.row_codes(res_type, param), value)
                                       for param, value in grant.query):
                continue
            return
        label = f"{res_type}/{resource.get('id')}" if resource.get("id") else f"this {res_type}"
        raise Forbidden(f"{label} is outside what this token may {interaction}")


def _refs(patients: frozenset[str]) -> str:
    return ",".join(f"Patient/{p}" for p in sorted(patients))


def _patient_limits(res_type: str, patients: frozenset[str] | None) -> list[Criteria] | None:
    """The alternatives limiting `res_type` to `patients` (None: no limit; []: nothing)."""
    if patients is None:
        return None
    if res_type == "Device":
        if not patients:
            return [(("patient:missing", "true"),)]
        return [(("patient", _refs(patients)),), (("patient:missing", "true"),)]
    params = compartment_params(res_type)
    if not params:
        if is_shared_type(res_type):
            return None
        raise Forbidden(f"{res_type} is outside the patient compartment and not shared data: "
                        "tokens limited to patients may not see it")
    if not patients:
        return []
    limits: list[Criteria] = []
    if res_type == "Patient":
        limits.append((("_id", ",".join(sorted(patients))),))
    limits.extend(((param, _refs(patients)),) for param in params)
    return limits


def _patient_refs(rows: Mapping[str, Sequence[Mapping[str, Any]]], params: Sequence[str]) -> list[str]:
    return [str(row.get("target_id")) for row in rows.get("reference", ())
            if row.get("param") in params and row.get("target_type") == "Patient"]


def _belongs(resource: Mapping[str, Any], rows: Mapping[str, Sequence[Mapping[str, Any]]],
             patients: frozenset[str], permission: str) -> bool:
    res_type = resource.get("resourceType")
    if res_type == "Patient" and resource.get("id") in patients:
        return True
    if res_type == "Device":
        owners = _patient_refs(rows, ("patient",))
        if not owners:
            return permission not in WRITE_PERMISSIONS
        return any(owner in patients for owner in owners)
    params = compartment_params(str(res_type))
    if not params:
        return is_shared_type(str(res_type)) and permission not in WRITE_PERMISSIONS
    return any(ref in patients for ref in _patient_refs(rows, params))


def _meets(rows: Mapping[str, Sequence[Mapping[str, Any]]], params: tuple[str, ...], value: str) -> bool:
    """Whether the resource's index rows of `params` (a criterion's parameter, or those it is the union
    of) meet one granular-scope criterion (token, reference, string and uri parameters; modifiers and
    other kinds are not met, so such scopes fail closed)."""
    if any(":" in param for param in params):
        return False
    for wanted in value.split(","):
        for kind, kind_rows in rows.items():
            for row in kind_rows:
                if row.get("param") in params and _row_matches(kind, row, wanted):
                    return True
    return False


def _row_matches(kind: str, row: Mapping[str, Any], wanted: str) -> bool:
    if kind == "token":
        if "|" in wanted:
            system, code = wanted.split("|", 1)
            if not system:
                return row.get("system") is None and row.get("code") == code
            return row.get("system") == system and (not code or row.get("code") == code)
        return row.get("code") == wanted
    if kind == "reference":
        if "/" in wanted and not wanted.startswith(("http:", "https:")):
            res_type, _, res_id = wanted.partition("/")
            return row.get("target_type") == res_type and row.get("target_id") == res_id
        return row.get("target_id") == wanted or row.get("url") == wanted
    if kind == "string":
        return str(row.get("value_norm", "")).startswith(normalize(wanted))
    if kind == "uri":
        return row.get("value") == wanted
    return False
