"""Who may see mortality analytics, and how much: the one hook access control plugs into.

Every analytics call passes its caller's `Principal` to `AnalyticsGuard.authorize` with what it
asks for, and gets back an `AnalyticsAccess` (or a `Forbidden`). `RoleGuard` is the default until
the SMART policy module provides one:

- unrestricted principals (dev mode) see everything, unsuppressed;
- analysts (`role` in `analyst_roles`) see aggregates only, with small cells suppressed, never a
  report that names patients (`subject` / `subject-list` reports, a Patient or Group subject);
- a token bound to one patient (launch context `patient`) sees no aggregates over other patients;
- anyone else needs read access to Encounters in their scopes (`*/Encounter.read` or `.rs`, or a
  wildcard), and sees unsuppressed counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fhir_server.context import Principal
from fhir_server.errors import Forbidden

__all__ = ["AnalyticsAccess", "AnalyticsRequest", "AnalyticsGuard", "RoleGuard", "can_read"]


@dataclass(frozen=True, slots=True)
class AnalyticsRequest:
    """What is asked: `action` (evaluate-measure, mortality, dashboard, csv), whether the answer names
    individual patients, and the subject (`Type/id`) it is restricted to, if any."""

    action: str
    patient_level: bool = False
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class AnalyticsAccess:
    suppress_small_cells: bool


class AnalyticsGuard(Protocol):
    def authorize(self, principal: Principal, request: AnalyticsRequest) -> AnalyticsAccess:
        """The access granted for `request`; raises Forbidden when none is."""


def can_read(principal: Principal, res_type: str) -> bool:
    """True when a SMART scope (v1 `read`/`*`, v2 `r`) of any context grants reading `res_type`."""
    for scope in principal.scopes:
        context, _, rest = scope.partition("/")
        if context not in ("system", "user", "patient") or "." not in rest:
            continue
        scope_type, _, permission = rest.partition(".")
        permission = permission.split("?", 1)[0]
        if scope_type in ("*", res_type) and (permission in ("read", "*") or
                                               ("r" in permission and set(permission) <= set("cruds"))):
            return True
    return False


class RoleGuard:
    def __init__(self, *, analyst_roles: frozenset[str] = frozenset({"analyst"})) -> None:
        self.analyst_roles = analyst_roles

    def authorize(self, principal: Principal, request: AnalyticsRequest) -> AnalyticsAccess:
        if principal.unrestricted:
            return AnalyticsAccess(suppress_small_cells=False)
        if principal.role in self.analyst_roles:
            if request.patient_level:
                raise Forbidden("analysts see aggregate figures only, not reports naming patients")
            return AnalyticsAccess(suppress_small_cells=True)
        if principal.patient is not None:
            raise Forbidden("a token for one patient's record cannot see figures over other patients")
        if not can_read(principal, "Encounter"):
            raise Forbidden("mortality analytics needs read access to Encounter resources")
        return AnalyticsAccess(suppress_small_cells=False)
