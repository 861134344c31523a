"""Keeping `analytics_encounters` in step with the stored resources.

`EncounterProjection.on_change` is a change subscriber, given each write's changes at once
(`on_changes`): it runs inside the transaction of every write, so a row commits with the write it
reflects. An Encounter write (re)writes its row, taking the patient's death date and the principal
Condition's code from their current versions; a Patient write updates the death date of that
patient's rows, a Condition write the code of the rows whose principal diagnosis it is (so the order
in which a transaction Bundle writes them does not matter).
The same methods, given many resources at once, serve the rebuild (`rebuild.py`) too. Resources are
read by key through `BatchStore.current_many`, so a write transaction keeps its generic plans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fhir_server.analytics.facts import Coded, EncounterFacts, death_range, encounter_facts, principal_code
from fhir_server.analytics.schema import COLUMNS
from fhir_server.services.ports import Change
from fhir_server.storage.batch import BatchStore
from fhir_server.storage.repository import ResourceStore, Tx
from resources import fhir_json

__all__ = ["EncounterProjection", "WATCHED_TYPES"]

WATCHED_TYPES = frozenset({"Encounter", "Patient", "Condition"})

_UPSERT = (
    f"INSERT INTO analytics_encounters ({', '.join(COLUMNS)}) VALUES ("
    + ", ".join(f"${n}" for n in range(1, len(COLUMNS) + 1))
    + ") ON CONFLICT (resource_pk) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "resource_pk")
)
_DELETE = "DELETE FROM analytics_encounters WHERE resource_pk = $1"
_DEATH = "UPDATE analytics_encounters SET death_low = $1, death_high = $2 WHERE patient_id = $3"
_DX = "UPDATE analytics_encounters SET dx_system = $1, dx_code = $2, dx_display = $3 WHERE condition_id = $4"


class EncounterProjection:
    def __init__(self, store: ResourceStore) -> None:
        self.store = store
        self.batch = BatchStore(store)

    async def on_change(self, tx: Tx, change: Change) -> None:
        await self.on_changes(tx, [change])

    async def on_changes(self, tx: Tx, changes: Sequence[Change]) -> None:
        """`on_change` for many changes at once (a few statements in all); the outcome is the same, as
        it does not depend on the order of the changes. For one (type, id), the last change counts."""
        latest = {(c.res_type, c.res_id): c for c in changes if c.res_type in WATCHED_TYPES}
        encounters = [c for (res_type, _), c in latest.items() if res_type == "Encounter"]
        if encounters:
            gone = [(c.pk,) for c in encounters if c.resource is None]
            if gone:
                await tx.db.executemany(_DELETE, gone)
            await self.write_encounters(tx, [(c.pk, c.resource) for c in encounters if c.resource is not None])
        deaths = [(c.res_id, c.resource) for (res_type, _), c in latest.items() if res_type == "Patient"
                  and not (c.action == "create" and "deceasedDateTime" not in (c.resource or {}))]
        if deaths:
            await self.write_deaths(tx, deaths)
        diagnoses = [(c.res_id, c.resource) for (res_type, _), c in latest.items() if res_type == "Condition"]
        if diagnoses:
            await self.write_diagnoses(tx, diagnoses)

    async def write_encounters(self, tx: Tx, encounters: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """(Re)write the rows of these Encounters (pk, resource)."""
        if not encounters:
            return
        facts = [(pk, encounter_facts(resource)) for pk, resource in encounters]
        current = await self._current(tx, [("Patient", f.patient_id) for _, f in facts if f.patient_id]
                                      + [("Condition", f.condition_id) for _, f in facts if f.condition_id])
        rows = []
        for pk, fact in facts:
            death = death_range(current.get(("Patient", fact.patient_id or "")))
            dx = principal_code(current.get(("Condition", fact.condition_id or "")))
            rows.append(_row(pk, fact, death, dx))
        await tx.db.executemany(_UPSERT, rows)

    async def write_deaths(self, tx: Tx, patients: Sequence[tuple[str, dict[str, Any] | None]]) -> None:
        rows = [(*death_range(resource), patient_id) for patient_id, resource in patients]
        await tx.db.executemany(_DEATH, rows)

    async def write_diagnoses(self, tx: Tx, conditions: Sequence[tuple[str, dict[str, Any] | None]]) -> None:
        rows = []
        for condition_id, resource in conditions:
            code = principal_code(resource)
            rows.append((code.system, code.code, code.display, condition_id) if code else
                        (None, None, None, condition_id))
        await tx.db.executemany(_DX, rows)

    async def _current(self, tx: Tx, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The current, not deleted resources of these (type, id) keys, parsed."""
        rows = await self.batch.current_many(tx, keys, bodies=True)
        return {key: fhir_json.loads(row.body) for key, row in rows.items()
                if row.body is not None and not row.deleted}


def _row(pk: int, fact: EncounterFacts, death: tuple[int | None, int | None], dx: Coded | None) -> tuple[Any, ...]:
    reason = fact.reason
    values = {
        "resource_pk": pk, "res_id": fact.res_id, "inpatient": fact.inpatient, "period_start": fact.period_start,
        "period_end": fact.period_end, "discharge_month": fact.discharge_month, "expired": fact.expired,
        "patient_id": fact.patient_id, "death_low": death[0], "death_high": death[1], "attending": fact.attending,
        "department": fact.department, "location": fact.location, "condition_id": fact.condition_id,
        "dx_system": dx.system if dx else None, "dx_code": dx.code if dx else None,
        "dx_display": dx.display if dx else None, "reason_system": reason.system if reason else None,
        "reason_code": reason.code if reason else None, "reason_display": reason.display if reason else None,
    }
    return tuple(values[column] for column in COLUMNS)
