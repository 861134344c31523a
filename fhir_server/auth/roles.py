"""Hospital roles and the most each may be granted.

| role    | who                                   | may be granted                                              |
|---------|---------------------------------------|-------------------------------------------------------------|
| doctor  | a Practitioner                        | patient/ and user/ scopes: every patient                    |
| trainee | a Practitioner under a supervisor     | patient/ and user/ scopes, limited by the policy to the     |
|         | doctor, until a tenure end date       | supervisor's patients; nothing after the tenure end         |
| admin   | operates the server                   | user/AuditEvent read and search; accounts, clients and keys |
|         |                                       | through the admin API; no clinical data                     |
| patient | a Patient                             | patient/ scopes on their own compartment (user/ scopes      |
|         |                                       | asked for are turned into patient/ ones)                    |
| analyst | population analytics                  | read and search (r, s) only; $export and analytics          |
| system  | a backend service (client_credentials)| system/ scopes within the client's registration             |
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from fhir_server.auth.scopes import ClinicalScope, InvalidScope, derive, parse_scope, with_permissions

__all__ = ["Role", "USER_ROLES", "ADMIN_TYPES", "READ_ONLY", "grantable_scopes"]


class Role(StrEnum):
    DOCTOR = "doctor"
    TRAINEE = "trainee"
    ADMIN = "admin"
    PATIENT = "patient"
    ANALYST = "analyst"
    SYSTEM = "system"


# the roles a person can have (an account); SYSTEM is a backend client's
USER_ROLES = frozenset({Role.DOCTOR, Role.TRAINEE, Role.ADMIN, Role.PATIENT, Role.ANALYST})
# what an administrator may see of the FHIR data
ADMIN_TYPES = frozenset({"AuditEvent"})
READ_ONLY = frozenset("rs")
_ADMIN_CONTEXT = frozenset({"openid", "fhirUser", "profile", "offline_access", "online_access"})


def _for_role(role: Role, scope: ClinicalScope) -> ClinicalScope | None:
    if role == Role.SYSTEM:
        return scope if scope.level == "system" else None
    if scope.level == "system":
        return None
    if role in (Role.DOCTOR, Role.TRAINEE):
        return scope
    if role == Role.PATIENT:
        return derive(scope, level="patient") if scope.level == "user" else scope
    if role == Role.ANALYST:
        return with_permissions(scope, READ_ONLY)
    if role == Role.ADMIN:
        if scope.level != "user" or scope.res_type not in ADMIN_TYPES | {"*"}:
            return None
        narrowed = with_permissions(scope, READ_ONLY)
        if narrowed is None:
            return None
        return derive(narrowed, res_type="AuditEvent") if narrowed.res_type == "*" else narrowed
    return None


def grantable_scopes(role: Role | str, requested: Iterable[str]) -> list[str]:
    """The requested scopes as far as `role` may hold them (narrowed or dropped), in request order."""
    role = Role(role)
    granted: list[str] = []
    for text in requested:
        try:
            parsed = parse_scope(text)
        except InvalidScope:
            continue
        if isinstance(parsed, str):
            if role == Role.SYSTEM or (role == Role.ADMIN and parsed not in _ADMIN_CONTEXT):
                continue
            result = parsed
        else:
            narrowed = _for_role(role, parsed)
            if narrowed is None:
                continue
            result = str(narrowed)
        if result not in granted:
            granted.append(result)
    return granted
