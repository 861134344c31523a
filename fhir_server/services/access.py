"""Access control and audit at the service layer: every interaction asks the access policy first and
leaves an AuditEvent.

    guard.check(ctx, "read", "Observation", instance=True)          # role and scopes, before any I/O
    await guard.check_resource(ctx, "read", resource)                # whose data: the resource itself
    await guard.search_limits(ctx, ["Observation"])                  # what a search or history may see
    guard.read(ctx, "read", "Observation", "1", body=...)            # the AuditEvent of a read
    guard.write_events(ctx, changes)                                 # those of a write, for its transaction

A refusal (`Forbidden`) is recorded as a denial before it propagates. Reads' events are collected on
the request context and made durable before the response leaves (the HTTP layer awaits them); a
write's events are appended in the write's own transaction. The policy itself is injected
(`fhir_server.auth.policy.AccessPolicy`), so this module holds no access rule of its own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fhir_server.auth.audit import Outcome, RestNote, noted
from fhir_server.context import Principal, RequestContext
from fhir_server.errors import Forbidden
from fhir_server.storage.repository import Tx

__all__ = ["AccessGuard", "AccessControl", "AuditLog", "PROTECTED_TYPES", "AUDIT_WRITER", "Written", "patients_in",
           "fail_closed_guard"]

# the audit trail is written by the server only: no client updates or deletes it
PROTECTED_TYPES = frozenset({"AuditEvent"})
AUDIT_WRITER = "audit"
log = logging.getLogger("fhir_server.audit")
# events a context may hold before they are recorded without waiting for its end
MAX_HELD_EVENTS = 256
# dev mode (loopback demos, no access control) leaves no audit trail either
UNAUDITED_ROLES = frozenset({"dev"})
ANONYMOUS = Principal(subject="anonymous", role="unknown")
_PATIENT_REFERENCE = re.compile(rb'"reference"\s*:\s*"Patient/([A-Za-z0-9\-.]{1,64})"')


class Filter(Protocol):
    alternatives: tuple[tuple[tuple[str, str], ...], ...]


class AccessControl(Protocol):
    """`fhir_server.auth.policy.AccessPolicy`."""

    def check_interaction(self, principal: Principal, interaction: str, res_type: str | None, *,
                          operation: str | None = None, instance: bool = False) -> None: ...

    async def compartment_filter(self, principal: Principal, res_type: str, *,
                                 interaction: str = "search-type") -> Filter | None: ...

    async def check_resource(self, principal: Principal, interaction: str, resource: Mapping[str, Any], *,
                             operation: str | None = None) -> None: ...

    def content_matters(self, principal: Principal, interaction: str, res_type: str) -> bool: ...


AuditRecord = dict[str, Any] | RestNote  # an AuditEvent, or the note it is built from when stored


class AuditLog(Protocol):
    """`fhir_server.services.audit.AuditTrail`: appends AuditEvents to the durable audit log."""

    async def record_in(self, tx: Tx, events: Sequence[AuditRecord]) -> None: ...

    async def record(self, events: Sequence[AuditRecord]) -> None: ...

    def record_soon(self, events: Sequence[AuditRecord]) -> None: ...


@dataclass(frozen=True, slots=True)
class Written:
    """One committed-to-be write, as the audit sees it."""

    interaction: str
    res_type: str
    res_id: str
    version_id: int
    body: bytes | None


def patients_in(res_type: str, res_id: str, body: bytes | None) -> list[str]:
    """The patients a resource is about, for the AuditEvent's patient entities: itself when it is a
    Patient, else the patients it references (a scan of the stored JSON, no parsing)."""
    found = [res_id] if res_type == "Patient" else []
    if body:
        found.extend(match.decode() for match in _PATIENT_REFERENCE.findall(body))
    return list(dict.fromkeys(found))


def fail_closed_guard() -> AccessGuard:
    """A guard for services built without one: the real policy, but blind to compartments (no index
    rows), so callers limited to patients are refused rather than let through."""
    from fhir_server.auth.policy import AccessPolicy

    return AccessGuard(AccessPolicy(index_rows=lambda resource: {}))


class AccessGuard:
    def __init__(self, policy: AccessControl, audit: AuditLog | None = None, *, server_name: str = "fhir-server") -> None:
        self.policy = policy
        self.audit = audit
        self.server_name = server_name

    # -- decisions -----------------------------------------------------------------------------

    def check(self, ctx: RequestContext, interaction: str, res_type: str | None, *, operation: str | None = None,
              instance: bool = False, res_id: str | None = None) -> None:
        try:
            self.policy.check_interaction(ctx.principal, interaction, res_type, operation=operation, instance=instance)
        except Forbidden as exc:
            self.deny(ctx, interaction, res_type, exc, res_id=res_id, operation=operation)
            raise

    def content_matters(self, ctx: RequestContext, interaction: str, res_type: str) -> bool:
        """Whether the resource itself must be checked (after `check` passed for its type)."""
        return self.policy.content_matters(ctx.principal, interaction, res_type)

    async def check_resource(self, ctx: RequestContext, interaction: str, resource: Mapping[str, Any], *,
                             operation: str | None = None) -> None:
        try:
            await self.policy.check_resource(ctx.principal, interaction, resource, operation=operation)
        except Forbidden as exc:
            self.deny(ctx, interaction, str(resource.get("resourceType") or ""), exc,
                      res_id=resource.get("id"), operation=operation)
            raise

    def check_protected(self, ctx: RequestContext, interaction: str, res_type: str, res_id: str | None = None) -> None:
        """AuditEvents are written by the server's own audit writer only, and never changed."""
        principal = ctx.principal
        if res_type not in PROTECTED_TYPES or principal.subject == AUDIT_WRITER:
            return
        if interaction == "create" and (principal.unrestricted or principal.role == "system"):
            return  # another system's own audit records (e.g. forwarded over BALP)
        verb = {"patch": "patched", "delete": "deleted", "create": "created"}.get(interaction, "updated")
        exc = Forbidden(f"{res_type} resources are the server's audit trail: they cannot be {verb} through the API")
        self.deny(ctx, interaction, res_type, exc, res_id=res_id)
        raise exc

    async def search_limits(self, ctx: RequestContext, res_types: Iterable[str], *, interaction: str = "search-type",
                            skip_refused: bool = False) -> dict[str, tuple[tuple[tuple[str, str], ...], ...] | None]:
        """Per type, the alternatives (criteria lists) a search or history of it is narrowed to; None:
        not narrowed. With `skip_refused`, types the principal may not search are left out instead of
        refusing the whole request (a system search, `_include`s)."""
        limits: dict[str, tuple[tuple[tuple[str, str], ...], ...] | None] = {}
        for res_type in res_types:
            try:
                found = await self.policy.compartment_filter(ctx.principal, res_type, interaction=interaction)
            except Forbidden as exc:
                if skip_refused:
                    continue
                self.deny(ctx, interaction, res_type, exc)
                raise
            limits[res_type] = None if found is None else found.alternatives
        return limits

    # -- audit ---------------------------------------------------------------------------------

    def deny(self, ctx: RequestContext, interaction: str, res_type: str | None, exc: Forbidden, *,
             res_id: Any = None, operation: str | None = None) -> None:
        if ctx.principal.role in UNAUDITED_ROLES:
            return
        ctx.audit.append(noted(
            ctx.principal, interaction, res_type=res_type, res_id=str(res_id) if res_id else None,
            operation=operation, outcome=Outcome.MINOR_FAILURE, outcome_desc=exc.diagnostics,
            network_address=ctx.network_address, server_name=self.server_name))

    def read(self, ctx: RequestContext, interaction: str, res_type: str | None, res_id: str | None = None, *,
             version_id: int | None = None, body: bytes | None = None, query: str | None = None,
             operation: str | None = None, patients: Iterable[str] = ()) -> None:
        """Note the AuditEvent of a read, search, history or operation on the request's context."""
        if ctx.principal.role in UNAUDITED_ROLES:
            return
        concerned = list(patients)
        if res_type and res_id:
            concerned.extend(patients_in(res_type, res_id, body))
        ctx.audit.append(noted(
            ctx.principal, interaction, res_type=res_type, res_id=res_id, version_id=version_id,
            query=query, operation=operation, patients=tuple(dict.fromkeys(concerned)),
            network_address=ctx.network_address, server_name=self.server_name))
        if len(ctx.audit) >= MAX_HELD_EVENTS:
            self._record_soon(ctx)

    def _record_soon(self, ctx: RequestContext) -> None:
        """A long-lived context (a job, a gateway connection) is never flushed by an HTTP response:
        record what it holds in the background instead of letting it grow."""
        events, ctx.audit = ctx.audit, []
        if self.audit is not None:
            self.audit.record_soon(events)

    async def record_writes(self, tx: Tx, ctx: RequestContext, written: Sequence[Written]) -> None:
        """Append the AuditEvents of writes in their own transaction."""
        if self.audit is None or not written or ctx.principal.subject == AUDIT_WRITER \
                or ctx.principal.role in UNAUDITED_ROLES:
            return
        events = [noted(ctx.principal, w.interaction, res_type=w.res_type, res_id=w.res_id, version_id=w.version_id,
                        patients=tuple(patients_in(w.res_type, w.res_id, w.body)),
                        network_address=ctx.network_address, server_name=self.server_name)
                  for w in written]
        if ctx.reads_with_writes and ctx.audit:
            events[:0], ctx.audit = ctx.audit, []
        await self.audit.record_in(tx, events)

    async def unauthenticated(self, method: str, path: str, network_address: str | None) -> None:
        """A request refused for want of a valid access token: no principal to name, only where from."""
        if self.audit is None:
            return
        event = noted(ANONYMOUS, "operation", query=f"{method} {path}", outcome=Outcome.MINOR_FAILURE,
                      outcome_desc="no valid access token", network_address=network_address,
                      server_name=self.server_name)
        await self.audit.record([event])

    async def flush(self, ctx: RequestContext) -> None:
        """Make the request's collected AuditEvents durable (the HTTP layer calls this before it answers)."""
        if not ctx.audit:
            return
        events, ctx.audit = ctx.audit, []
        if self.audit is not None:
            await self.audit.record(events)
