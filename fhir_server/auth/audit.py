"""FHIR R4 `AuditEvent`s following IHE Basic Audit Log Patterns (BALP), built as dicts for the service
layer to store (https://profiles.ihe.net/ITI/BALP/).

    rest_event(principal, interaction="read", res_type="Observation", res_id="1", patients=["7"])
    rest_event(principal, interaction="search-type", res_type="Observation", query="code=1234-5")
    rest_event(principal, interaction="read", ..., outcome=Outcome.MINOR_FAILURE, outcome_desc="forbidden")
    RestNote(principal, "read", "Observation", "1", patients=("7",))   # the same, noted: built when stored
    denial_event(principal, interaction, res_type, reason)     # what the policy refused
    login_event(username=..., account=..., client_id=..., success=...)
    token_event(claims=..., grant_type=..., success=True) / token_event(client_id=..., success=False, reason=...)
    revocation_event(client_id=..., token_kind=..., subject=...)

Every event has `type` (rest for FHIR interactions; DICOM 110114 User Authentication for logins and
token grants), `subtype`, `action` (C R U D E), `recorded`, `outcome`, the agents (the user with
their role and fhirUser, the client app by client_id with its network address, the server), the
`source` (this server) and the entities (the resource, the query as base64, the patients concerned).
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from fhir_server.auth.models import Account
from fhir_server.auth.tokens import TokenClaims
from fhir_server.context import Principal

__all__ = ["Outcome", "rest_event", "RestNote", "noted", "storable", "stored_event", "denial_event", "login_event", "token_event", "revocation_event",
           "ACTION_OF", "ROLE_SYSTEM", "CLIENT_SYSTEM", "ACCOUNT_SYSTEM"]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
OAUTH_GRANT = "urn:ietf:rfc:6749"
OAUTH_REVOCATION = "urn:ietf:rfc:7009"
ROLE_SYSTEM = "urn:fhir-server:role"
CLIENT_SYSTEM = "urn:fhir-server:client"
ACCOUNT_SYSTEM = "urn:fhir-server:account"

ACTION_OF = {
    "create": "C", "read": "R", "vread": "R", "history-instance": "R", "history-type": "R", "history-system": "R",
    "update": "U", "patch": "U", "delete": "D", "search-type": "E", "search-system": "E",
    "search-compartment": "E", "operation": "E", "batch": "E", "transaction": "E", "capabilities": "E",
}
_SUBTYPE_OF = {"search-compartment": "search-type"}


class Outcome(StrEnum):
    SUCCESS = "0"
    MINOR_FAILURE = "4"  # e.g. refused by the access policy, bad input
    SERIOUS_FAILURE = "8"
    MAJOR_FAILURE = "12"


def _instant(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return _instant(dt.datetime.now(dt.UTC))


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


@lru_cache(maxsize=16)
def _source(server_name: str) -> dict[str, Any]:
    return {"observer": {"display": server_name}, "type": [_coding(SOURCE_TYPE, "4", "Application Server")]}


def _user_agent(*, subject: str, role: str, fhir_user: str | None, name: str | None = None) -> dict[str, Any]:
    who: dict[str, Any] = {"reference": fhir_user} if fhir_user else {"identifier": {"system": ACCOUNT_SYSTEM,
                                                                                     "value": subject}}
    agent: dict[str, Any] = {"type": {"coding": [_coding(PARTICIPATION, "IRCP", "information recipient")]},
                             "role": [{"coding": [_coding(ROLE_SYSTEM, role)], "text": role}],
                             "who": who, "altId": subject, "requestor": True}
    if name:
        agent["name"] = name
    return agent


def _client_agent(client_id: str | None, *, requestor: bool, network_address: str | None) -> dict[str, Any]:
    agent: dict[str, Any] = {"type": {"coding": [_coding(DCM, "110153", "Source Role ID")]}, "requestor": requestor}
    if client_id:
        agent["who"] = {"identifier": {"system": CLIENT_SYSTEM, "value": client_id}, "display": client_id}
    if network_address:
        agent["network"] = {"address": network_address, "type": "2"}
    return agent


def _server_agent(server_name: str) -> dict[str, Any]:
    return {"type": {"coding": [_coding(DCM, "110152", "Destination Role ID")]}, "who": {"display": server_name},
            "requestor": False}


# the same caller's agents are built once: events share them (they are serialised, never changed)
@lru_cache(maxsize=4096)
def _agents(principal: Principal, network_address: str | None, server_name: str) -> list[dict[str, Any]]:
    person = principal.role != "system"
    agents = []
    if person:
        agents.append(_user_agent(subject=principal.subject, role=principal.role, fhir_user=principal.fhir_user))
    agents.append(_client_agent(principal.client_id or (None if person else principal.subject),
                                requestor=not person, network_address=network_address))
    agents.append(_server_agent(server_name))
    return agents


def _patient_entities(patients: Iterable[str]) -> list[dict[str, Any]]:
    return [{"what": {"reference": p if "/" in p else f"Patient/{p}"}, "type": _PERSON, "role": _PATIENT}
            for p in dict.fromkeys(patients)]


@lru_cache(maxsize=64)
def _interaction_coding(code: str) -> dict[str, str]:
    return _coding(INTERACTION, code)


# codings every event repeats, shared as `_agents`' are
_REST = _coding(EVENT_TYPE, "rest", "Restful Operation")
_SYSTEM_OBJECT = _coding(ENTITY_TYPE, "2", "System Object")
_DOMAIN_RESOURCE = _coding(OBJECT_ROLE, "4", "Domain Resource")
_QUERY = _coding(OBJECT_ROLE, "24", "Query")
_PERSON = _coding(ENTITY_TYPE, "1", "Person")
_PATIENT = _coding(OBJECT_ROLE, "1", "Patient")


def rest_event(principal: Principal, *, interaction: str, res_type: str | None = None, res_id: str | None = None,
               version_id: str | int | None = None, query: str | None = None, operation: str | None = None,
               patients: Iterable[str] = (), outcome: Outcome = Outcome.SUCCESS, outcome_desc: str | None = None,
               network_address: str | None = None, server_name: str = "fhir-server",
               recorded: str | None = None) -> dict[str, Any]:
    """A FHIR interaction: read, vread, history, search, create, update, patch, delete, an operation."""
    subtype = [_interaction_coding(_SUBTYPE_OF.get(interaction, interaction))]
    if operation:
        subtype.append({"code": operation, "display": operation})
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _REST,
        "subtype": subtype,
        "action": ACTION_OF.get(interaction, "E"),
        "recorded": recorded or _now(),
        "outcome": outcome.value,
        "agent": _agents(principal, network_address, server_name),
        "source": _source(server_name),
    }
    if outcome_desc:
        event["outcomeDesc"] = outcome_desc
    entities: list[dict[str, Any]] = []
    if res_type and res_id:
        path = f"{res_type}/{res_id}" + (f"/_history/{version_id}" if version_id is not None else "")
        entities.append({"what": {"reference": path}, "type": _SYSTEM_OBJECT, "role": _DOMAIN_RESOURCE})
    if query is not None:
        entities.append({"type": _SYSTEM_OBJECT, "role": _QUERY,
                         "query": base64.b64encode(query.encode()).decode(),
                         **({"description": res_type} if res_type else {})})
    patient_ids = list(patients) or ([principal.patient] if principal.patient else [])
    entities.extend(_patient_entities(patient_ids))
    if entities:
        event["entity"] = entities
    return event


_NOTE = "rest-1"  # a packed RestNote's first item


# not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, and a note is
# made on every read
@dataclass(slots=True)
class RestNote:
    """A FHIR interaction's AuditEvent as noted on the request's path: `rest_event`'s arguments, and
    the time. The audit log stores it packed (a short list) and the materializer builds the BALP
    AuditEvent from it: a read then costs a few dozen bytes in its group's log row instead of the
    kilobyte of JSON, built, serialised and compressed while the caller waits."""

    principal: Principal
    interaction: str
    res_type: str | None = None
    res_id: str | None = None
    version_id: str | int | None = None
    query: str | None = None
    operation: str | None = None
    patients: tuple[str, ...] = ()
    outcome: Outcome = Outcome.SUCCESS
    outcome_desc: str | None = None
    network_address: str | None = None
    server_name: str = "fhir-server"
    recorded_ms: int = 0

    def event(self) -> dict[str, Any]:
        """The AuditEvent."""
        recorded = _instant(dt.datetime.fromtimestamp(self.recorded_ms / 1000, dt.UTC))
        return rest_event(self.principal, interaction=self.interaction, res_type=self.res_type, res_id=self.res_id,
                          version_id=self.version_id, query=self.query, operation=self.operation,
                          patients=self.patients, outcome=self.outcome, outcome_desc=self.outcome_desc,
                          network_address=self.network_address, server_name=self.server_name,
                          recorded=recorded)

    def packed(self) -> list[Any]:
        p = self.principal
        return [_NOTE, p.subject, p.role, p.client_id, p.fhir_user, p.patient, self.interaction, self.res_type,
                self.res_id, self.version_id, self.query, self.operation, list(self.patients), self.outcome.value,
                self.outcome_desc, self.network_address, self.server_name, self.recorded_ms]

    @classmethod
    def unpacked(cls, item: list[Any]) -> RestNote:
        (_, subject, role, client_id, fhir_user, patient, interaction, res_type, res_id, version_id, query,
         operation, patients, outcome, outcome_desc, network_address, server_name, recorded_ms) = item
        principal = Principal(subject=subject, role=role, client_id=client_id, fhir_user=fhir_user, patient=patient)
        return cls(principal, interaction, res_type, res_id, version_id, query, operation, tuple(patients),
                   Outcome(outcome), outcome_desc, network_address, server_name, recorded_ms)


def noted(principal: Principal, interaction: str, **details: Any) -> RestNote:
    """A RestNote stamped now."""
    return RestNote(principal, interaction, recorded_ms=time.time_ns() // 1_000_000, **details)


def storable(event: dict[str, Any] | RestNote) -> Any:
    """What the audit log stores of an event: a note packed, a built event as it is."""
    return event.packed() if isinstance(event, RestNote) else event


def stored_event(item: Any) -> dict[str, Any]:
    """The AuditEvent of what `storable` gave (read back from the log)."""
    if isinstance(item, list) and item and item[0] == _NOTE:
        return RestNote.unpacked(item).event()
    return item  # type: ignore[no-any-return]


def denial_event(principal: Principal, interaction: str, res_type: str | None, reason: str, **details: Any) -> dict[str, Any]:
    """What the access policy refused (`Forbidden`), with the reason."""
    return rest_event(principal, interaction=interaction, res_type=res_type, outcome=Outcome.MINOR_FAILURE,
                      outcome_desc=reason, **details)


def login_event(*, username: str, account: Account | None, client_id: str | None, success: bool,
                reason: str | None = None, network_address: str | None = None,
                server_name: str = "fhir-server") -> dict[str, Any]:
    """A login at the authorization server's login page (failed ones too)."""
    user = _user_agent(subject=account.account_id if account else username, role=account.role if account else "unknown",
                       fhir_user=account.fhir_user if account else None, name=username)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _coding(DCM, "110114", "User Authentication"),
        "subtype": [_coding(DCM, "110122", "Login")],
        "action": "E", "recorded": _now(),
        "outcome": Outcome.SUCCESS.value if success else Outcome.MINOR_FAILURE.value,
        "agent": [user, _client_agent(client_id, requestor=False, network_address=network_address),
                  _server_agent(server_name)],
        "source": _source(server_name),
    }
    if reason:
        event["outcomeDesc"] = reason
    return event


def token_event(*, grant_type: str, success: bool, claims: TokenClaims | None = None, client_id: str | None = None,
                reason: str | None = None, network_address: str | None = None,
                server_name: str = "fhir-server") -> dict[str, Any]:
    """A token request at the token endpoint: granted (with the token's claims) or refused (with why)."""
    agents: list[dict[str, Any]] = []
    if claims is not None and claims.role != "system":
        agents.append(_user_agent(subject=claims.subject, role=claims.role, fhir_user=claims.fhir_user))
    client = claims.client_id if claims is not None else client_id
    agents.append(_client_agent(client, requestor=not agents, network_address=network_address))
    agents.append(_server_agent(server_name))
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _coding(DCM, "110114", "User Authentication"),
        "subtype": [_coding(OAUTH_GRANT, grant_type or "unknown", "OAuth 2.0 token request")],
        "action": "E", "recorded": _now(),
        "outcome": Outcome.SUCCESS.value if success else Outcome.MINOR_FAILURE.value,
        "agent": agents,
        "source": _source(server_name),
    }
    description = reason or (f"granted {claims.scope}" if claims is not None else None)
    if description:
        event["outcomeDesc"] = description
    if claims is not None and claims.patient:
        event["entity"] = _patient_entities([claims.patient])
    return event


def revocation_event(*, client_id: str | None, token_kind: str, subject: str | None = None,
                     network_address: str | None = None, server_name: str = "fhir-server") -> dict[str, Any]:
    """A token revoked at the revocation endpoint."""
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _coding(DCM, "110114", "User Authentication"),
        "subtype": [_coding(OAUTH_REVOCATION, "revocation", "OAuth 2.0 token revocation")],
        "action": "D", "recorded": _now(), "outcome": Outcome.SUCCESS.value,
        "outcomeDesc": f"{token_kind} revoked" + (f" (subject {subject})" if subject else ""),
        "agent": [_client_agent(client_id, requestor=True, network_address=network_address),
                  _server_agent(server_name)],
        "source": _source(server_name),
    }
    return event
