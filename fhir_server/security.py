"""Composition of access control for a runtime: the access policy with trainees' linked patients, the
service layer's guard with its audit trail, and what the authorization server asks of the FHIR data
(patient and encounter pickers, the supervisor's patients).

Every door (HTTP, HL7 gateway, AI pipeline, CLI) shares the one guard built here, so a principal is
judged the same way whichever door it comes through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from fhir_server.auth.linkage import TraineeLinks, search_linked_patients
from fhir_server.auth.models import Account
from fhir_server.auth.policy import AccessPolicy, RowCodesOf, definition_row_codes
from fhir_server.auth.ports import Choice, EncounterPicker, PatientPicker, SupervisedPatients
from fhir_server.auth.repositories import accounts as account_rows
from fhir_server.context import Principal, RequestContext
from fhir_server.services.access import AccessGuard, AuditLog
from fhir_server.services.ports import Indexer
from fhir_server.services.search import SearchRequest, SearchService
from fhir_server.storage.repository import ResourceStore

__all__ = ["build_access", "attach_search", "supervised_patients", "patient_picker", "encounter_picker", "LINKS_PRINCIPAL"]

# what the server itself uses to find a supervisor's patients: reads of the three linking types only
LINKS_PRINCIPAL = Principal(subject="fhir-server/linkage", role="system", unrestricted=True,
                            scopes=frozenset({"system/Patient.rs", "system/Encounter.rs", "system/CareTeam.rs"}))
PICKER_PAGE = 20
LINK_PAGE = 1000


async def _not_attached(practitioner: str) -> frozenset[str]:
    raise RuntimeError("the search service is not attached to the access guard yet")


def build_access(store: ResourceStore, indexer: Indexer, *, audit: AuditLog | None,
                 linkage_cache_seconds: float = 30, server_name: str = "fhir-server",
                 row_codes: RowCodesOf = definition_row_codes) -> AccessGuard:
    """The guard every service asks. The trainees' linkage searches through the search service,
    which is built with this guard: `attach_search` completes it."""

    async def supervisor_of(subject: str) -> str | None:
        async with store.read() as tx:
            account = await account_rows.by_id(tx.db, subject)
        return account.supervisor if account is not None else None

    links = TraineeLinks(_not_attached, supervisor_of, cache_seconds=linkage_cache_seconds)
    return AccessGuard(AccessPolicy(index_rows=indexer, linked_patients=links, row_codes=row_codes), audit,
                       server_name=server_name)


def attach_search(guard: AccessGuard, search: SearchService) -> None:
    links = getattr(guard.policy, "linked_patients", None)
    if isinstance(links, TraineeLinks):
        links.supervised_patients = supervised_patients(search)


async def _search_all(search: SearchService, ctx: RequestContext, res_type: str,
                      criteria: Sequence[tuple[str, str]], *, page: int) -> list[dict[str, Any]]:
    """Every match of a search, page after page."""
    found: list[dict[str, Any]] = []
    params = [*criteria, ("_count", str(page))]
    while True:
        bundle = orjson.loads(await search.search(ctx, SearchRequest(res_type, params)))
        found.extend(entry["resource"] for entry in bundle.get("entry", ())
                     if entry.get("search", {}).get("mode", "match") == "match" and "resource" in entry)
        following = next((link["url"] for link in bundle.get("link", ()) if link.get("relation") == "next"), None)
        if following is None:
            return found
        params = parse_qsl(urlsplit(following).query, keep_blank_values=True)


def supervised_patients(search: SearchService) -> SupervisedPatients:
    """A supervisor's patients, by the linkage rule of `fhir_server.auth.linkage`."""

    async def run(res_type: str, criteria: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        return await _search_all(search, RequestContext(LINKS_PRINCIPAL, ""), res_type, criteria, page=LINK_PAGE)

    return search_linked_patients(run)


def _principal_of(account: Account, scopes: frozenset[str]) -> Principal:
    return Principal(subject=account.account_id, role=account.role, scopes=scopes, fhir_user=account.fhir_user)


def _name(patient: dict[str, Any]) -> str:
    for name in patient.get("name", ()):
        text = name.get("text") or " ".join([*name.get("given", ()), name.get("family", "")]).strip()
        if text:
            return text
    return patient.get("id", "")


def patient_picker(search: SearchService, guard: AccessGuard) -> PatientPicker:
    """The patients a user may pick at a standalone launch, searched by name as the user sees them
    (a trainee's search is limited to their supervisor's patients by the policy itself)."""

    async def pick(account: Account, query: str) -> list[Choice]:
        ctx = RequestContext(_principal_of(account, frozenset({"user/Patient.rs"})), "")
        params = [("_count", str(PICKER_PAGE)), ("_sort", "family")]
        if query.strip():
            params.append(("name", query.strip()))
        bundle = orjson.loads(await search.search(ctx, SearchRequest("Patient", params)))
        await guard.flush(ctx)
        return [Choice(entry["resource"]["id"], f"{_name(entry['resource'])} ({entry['resource'].get('birthDate', '?')})")
                for entry in bundle.get("entry", ()) if "resource" in entry]

    return pick


def encounter_picker(search: SearchService, guard: AccessGuard) -> EncounterPicker:
    """The encounters of the chosen patient, newest first."""

    async def pick(account: Account, patient: str) -> list[Choice]:
        ctx = RequestContext(_principal_of(account, frozenset({"user/Encounter.rs"})), "")
        params = [("patient", f"Patient/{patient}"), ("_count", str(PICKER_PAGE)), ("_sort", "-date")]
        bundle = orjson.loads(await search.search(ctx, SearchRequest("Encounter", params)))
        await guard.flush(ctx)
        choices = []
        for entry in bundle.get("entry", ()):
            encounter = entry.get("resource", {})
            kind = (encounter.get("class") or {}).get("display") or (encounter.get("class") or {}).get("code", "")
            start = (encounter.get("period") or {}).get("start", "")
            choices.append(Choice(encounter["id"], " ".join(part for part in (kind, start) if part) or encounter["id"]))
        return choices

    return pick
