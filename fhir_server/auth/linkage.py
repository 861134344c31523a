"""Which patients a trainee may see: those linked to their supervising doctor.

A patient is linked to a Practitioner when any of these names the Practitioner:

- the Patient's `generalPractitioner`                       (Patient?general-practitioner=Practitioner/X)
- a `participant.individual` of an Encounter of the patient (Encounter?participant=Practitioner/X)
- a `participant.member` of a CareTeam of the patient       (CareTeam?participant=Practitioner/X)

`search_linked_patients(search)` applies this rule through an injected async search
(`search(res_type, criteria) -> list of resources`); any other `SupervisedPatients` callable may be
wired instead. `TraineeLinks` resolves a trainee principal to their supervisor (from the account) and
caches each supervisor's patients for a few seconds, so a search does not repeat the lookups on every
request; a link added or removed is seen within that time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from fhir_server.auth.ports import SupervisedPatients
from fhir_server.context import Principal

__all__ = ["TraineeLinks", "search_linked_patients", "Search", "LINK_QUERIES"]

Search = Callable[[str, Sequence[tuple[str, str]]], Awaitable[list[dict[str, Any]]]]
SupervisorOf = Callable[[str], Awaitable[str | None]]

# (resource type, search parameter naming the practitioner, element holding the patient)
LINK_QUERIES = (
    ("Patient", "general-practitioner", None),
    ("Encounter", "participant", "subject"),
    ("CareTeam", "participant", "subject"),
)


def _patient_id(reference: Any) -> str | None:
    ref = reference.get("reference") if isinstance(reference, dict) else None
    if isinstance(ref, str) and ref.startswith("Patient/"):
        return ref.split("/", 2)[1]
    return None


def search_linked_patients(search: Search) -> SupervisedPatients:
    async def linked(practitioner: str) -> frozenset[str]:
        found: set[str] = set()
        for res_type, param, element in LINK_QUERIES:
            for resource in await search(res_type, [(param, practitioner)]):
                if element is None:
                    if resource.get("id"):
                        found.add(str(resource["id"]))
                elif (patient := _patient_id(resource.get(element))) is not None:
                    found.add(patient)
        return frozenset(found)

    return linked


class TraineeLinks:
    """The policy's `LinkedPatients`: a trainee principal -> the ids of the patients they may see."""

    def __init__(self, supervised_patients: SupervisedPatients, supervisor_of: SupervisorOf, *,
                 cache_seconds: float = 30) -> None:
        self.supervised_patients = supervised_patients
        self.supervisor_of = supervisor_of
        self.cache_seconds = cache_seconds
        self._supervisors: dict[str, tuple[float, str | None]] = {}
        self._patients: dict[str, tuple[float, frozenset[str]]] = {}

    async def __call__(self, principal: Principal) -> frozenset[str]:
        supervisor = await self._supervisor(principal.subject)
        if supervisor is None:
            return frozenset()
        now = time.monotonic()
        cached = self._patients.get(supervisor)
        if cached is not None and cached[0] > now:
            return cached[1]
        patients = await self.supervised_patients(supervisor)
        self._patients[supervisor] = (now + self.cache_seconds, patients)
        return patients

    async def _supervisor(self, subject: str) -> str | None:
        now = time.monotonic()
        cached = self._supervisors.get(subject)
        if cached is not None and cached[0] > now:
            return cached[1]
        supervisor = await self.supervisor_of(subject)
        self._supervisors[subject] = (now + self.cache_seconds, supervisor)
        return supervisor

    def forget(self, subjects: Iterable[str] = ()) -> None:
        """Drop cached answers (all, or those of some trainees)."""
        if not subjects:
            self._supervisors.clear()
            self._patients.clear()
        for subject in subjects:
            self._supervisors.pop(subject, None)
