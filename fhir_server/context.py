"""Who is asking and how: the Principal and the RequestContext every service call carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Principal", "RequestContext", "DEV_PRINCIPAL", "Handling", "ReturnPreference"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller as the access token describes it. `scopes` are SMART scopes (v1 or v2 grammar)."""

    subject: str
    role: str
    scopes: frozenset[str] = frozenset()
    client_id: str | None = None
    fhir_user: str | None = None
    patient: str | None = None
    encounter: str | None = None
    unrestricted: bool = False


# The loopback-only demo mode: no access control at all.
DEV_PRINCIPAL = Principal(subject="dev", role="dev", scopes=frozenset({"system/*.*"}), unrestricted=True)

Handling = str  # "strict" | "lenient"
ReturnPreference = str  # "minimal" | "representation" | "OperationOutcome"


@dataclass(slots=True)
class RequestContext:
    """One interaction's context: caller, public base URL of /fhir, and the client's preferences."""

    principal: Principal
    base_url: str
    request_id: str = ""
    handling: Handling = "strict"
    extra: dict[str, str] = field(default_factory=dict)
    # AuditEvents of the reads this request made (dicts, or `auth.audit.RestNote`s to build them from),
    # recorded (durably) before its response is sent; a write's go into the write's own transaction
    audit: list[Any] = field(default_factory=list)
    network_address: str | None = None
    # the write is part of a bulk load (`$import`, `fhir-server import`, demo data): change subscribers
    # that do follow-up work per resource (the AI pipeline's triggers) may leave it alone
    bulk_load: bool = False
    # the reads go into the transaction of the writes that follow them, with the writes' own events,
    # instead of a commit of their own after it: for a unit of work whose reads serve only its writes
    # (an HL7 message's conditional matches), recorded if and only if they are
    reads_with_writes: bool = False

    def full_url(self, res_type: str, res_id: str) -> str:
        return f"{self.base_url}/{res_type}/{res_id}"
