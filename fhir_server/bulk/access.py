"""Who may export, who may see an export afterwards, and the audit trail: the hooks access control plugs into.

- `ExportGuard.authorize(principal, request)` runs at kick-off (raise `Forbidden` to refuse);
  `owner(principal)` is the key recorded with the export, and `may_access(principal, owner)` is
  asked by every status, download and cancel request (Bulk Data: `requiresAccessToken` — the files
  are served only to the client that asked for them).
- `ExportAudit` records every kick-off, completion, failure, download and cancellation as a FHIR
  `AuditEvent` (dict) handed to an `AuditSink` (`async (event) -> None`): by default the log, in
  production the audit service's sink.

`DefaultExportGuard` stands in until the SMART policy provides a guard: unrestricted principals
(dev mode) may export anything; analysts (`role` "analyst") only de-identified extracts; a token
bound to one patient may not use bulk export; everyone else needs read access, in a `system` or
`user` scope, to every type the export may contain (`*` when `_type` is not given).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import orjson

from fhir_server.context import Principal
from fhir_server.errors import Forbidden
from fhir_server.storage.instants import now_micros, to_instant

__all__ = ["ExportGuard", "DefaultExportGuard", "ExportAudit", "AuditSink", "log_sink", "reads"]

log = logging.getLogger("fhir_server.audit")

AuditSink = Callable[[dict[str, Any]], Awaitable[None]]


class ExportGuard(Protocol):
    def authorize(self, principal: Principal, *, level: str, types: Iterable[str] | None,
                  deidentified: bool) -> None:
        """Raise Forbidden unless `principal` may start this export (`types` None: every type)."""

    def owner(self, principal: Principal) -> str:
        """The key an export is recorded under."""

    def may_access(self, principal: Principal, owner: str) -> bool:
        """True when `principal` may poll, download or cancel an export recorded under `owner`."""


def reads(principal: Principal, res_type: str, contexts: tuple[str, ...] = ("system", "user")) -> bool:
    """True when a SMART scope (v1 `read`/`*`, v2 `r...`) in one of `contexts` grants reading `res_type`."""
    for scope in principal.scopes:
        context, _, rest = scope.partition("/")
        scope_type, _, permission = rest.partition(".")
        permission = permission.split("?", 1)[0]
        if context in contexts and scope_type in ("*", res_type) and (
                permission in ("read", "*") or ("r" in permission and set(permission) <= set("cruds"))):
            return True
    return False


class DefaultExportGuard:
    def __init__(self, *, analyst_roles: frozenset[str] = frozenset({"analyst"})) -> None:
        self.analyst_roles = analyst_roles

    def authorize(self, principal: Principal, *, level: str, types: Iterable[str] | None,
                  deidentified: bool) -> None:
        if principal.unrestricted:
            return
        if principal.patient is not None:
            raise Forbidden("bulk export is not available to a token bound to one patient's record")
        if principal.role in self.analyst_roles and not deidentified:
            raise Forbidden("analysts may export de-identified extracts only (_deidentify=safe-harbor or date-shift)")
        missing = [t for t in (types if types is not None else ["*"]) if not reads(principal, t)]
        if missing:
            raise Forbidden(f"the token does not grant reading {', '.join(missing)} (system or user scopes)")

    def owner(self, principal: Principal) -> str:
        return principal.client_id or f"subject:{principal.subject}"

    def may_access(self, principal: Principal, owner: str) -> bool:
        return self.owner(principal) == owner


async def log_sink(event: dict[str, Any]) -> None:
    """The default audit sink: one JSON line per event on the `fhir_server.audit` logger."""
    log.info("%s", orjson.dumps(event).decode())


class ExportAudit:
    """AuditEvents (IHE BALP shape: type rest, subtype the operation) for the export's milestones."""

    OPERATION = "export"

    def __init__(self, sink: AuditSink = log_sink, *, server_name: str = "fhir-server") -> None:
        self.sink = sink
        self.server_name = server_name

    async def record(self, principal: Principal | None, action: str, export_id: str, *, owner: str | None = None,
                     outcome: str = "0", detail: str | None = None, request: str | None = None) -> None:
        """`action`: kick-off | complete | failed | download | cancel. `principal` None: the worker."""
        event: dict[str, Any] = {
            "resourceType": "AuditEvent",
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
                     "display": "Restful Operation"},
            "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "operation"},
                        {"code": self.OPERATION, "display": f"$export {action}"}],
            "action": "R" if action == "download" else "E",
            "recorded": to_instant(now_micros()),
            "outcome": outcome,
            "agent": [self._agent(principal, owner)],
            "source": {"observer": {"display": self.server_name}},
            "entity": [{"what": {"identifier": {"system": "urn:fhir-server:bulk-export", "value": export_id}},
                        **({"query": _b64(request)} if request else {}),
                        **({"description": detail} if detail else {})}],
        }
        if detail and outcome != "0":
            event["outcomeDesc"] = detail
        await self.sink(event)

    @staticmethod
    def _agent(principal: Principal | None, owner: str | None) -> dict[str, Any]:
        if principal is None:
            return {"who": {"display": "fhir-server worker"}, "requestor": False,
                    **({"altId": owner} if owner else {})}
        agent: dict[str, Any] = {"who": {"display": principal.subject}, "requestor": True,
                                 "role": [{"text": principal.role}]}
        if principal.client_id:
            agent["altId"] = principal.client_id
        if principal.fhir_user:
            agent["who"]["reference"] = principal.fhir_user
        return agent


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
