"""A synthetic hospital for the export and measure benchmarks, written straight into the store.

Resources go through the same path as the REST writes (stamping, `extract()` with the server's search
registry, AES-256-GCM sealing) but in big batches: on PostgreSQL with COPY, on SQLite with
`executemany`. Extraction and sealing run in a process pool, so two cores write twice as fast.

    departments (Organization), wards (Location), practitioners, patients, and per patient stays
    (Encounter, class IMP mostly) with a principal Condition, vital-sign Observations to fill the
    requested total. About 4% of inpatient stays end in death (disposition `exp`, or only a
    `Patient.deceasedDateTime` inside the stay).

Used by `bench/export_load.py` and `bench/measure_load.py`; not part of the test suite.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from fhir_server.db.tables import SEARCH_INDEX_TABLES
from fhir_server.storage.instants import now_micros, to_instant
from fhir_server.storage.repository import ResourceStore
from resources import fhir_json

__all__ = ["Hospital", "generate", "write_all", "DEPARTMENTS", "CONDITIONS", "create_database", "drop_database",
           "store_for", "close_store", "analyze", "DEFAULT_ADMIN", "hospital_of_size"]

DEPARTMENTS = ("Cardiology", "Oncology", "Respiratory Medicine", "General Surgery", "Neurology", "Geriatrics",
               "Nephrology", "Gastroenterology", "Infectious Diseases", "Orthopaedics", "Intensive Care",
               "Haematology")
CONDITIONS = (("22298006", "Myocardial infarction"), ("230690007", "Stroke"), ("233604007", "Pneumonia"),
              ("84114007", "Heart failure"), ("91302008", "Sepsis"), ("13645005", "COPD"),
              ("363358000", "Lung cancer"), ("709044004", "Chronic kidney disease"),
              ("74400008", "Appendicitis"), ("5913000", "Fracture of neck of femur"),
              ("40055000", "Chronic sinusitis"), ("44054006", "Diabetes mellitus type 2"))
FAMILIES = ("Okafor", "Nakamura", "Schmidt", "Haddad", "Kowalski", "Silva", "O'Brien", "Novak", "Moreau",
            "Lindqvist", "Mensah", "Petrov", "Rossi", "Tanaka", "Ivanova", "Jensen")
GIVEN = ("Adaeze", "Hiro", "Greta", "Omar", "Zofia", "Tiago", "Siobhan", "Matej", "Camille", "Astrid",
         "Kwame", "Dmitri", "Giulia", "Yuki", "Olga", "Lars")
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED = "http://snomed.info/sct"
YEAR_MICROS = 365 * 86_400_000_000


@dataclass(frozen=True, slots=True)
class Hospital:
    patients: int
    stays_per_patient: int = 2
    observations_per_stay: int = 0
    practitioners: int = 150
    start_year: int = 2023
    years: int = 2
    seed: int = 7


def hospital_of_size(resources: int, *, observations_per_stay: int = 8, stays_per_patient: int = 2) -> Hospital:
    """A hospital of about `resources` resources (each patient brings 1 + stays x (2 + observations))."""
    per_patient = 1 + stays_per_patient * (2 + observations_per_stay)
    return Hospital(patients=max(1, resources // per_patient), stays_per_patient=stays_per_patient,
                    observations_per_stay=observations_per_stay)


def _org(n: int) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": f"dept-{n}", "active": True, "name": DEPARTMENTS[n],
            "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                                  "code": "dept"}]}]}


def _patient(rng: random.Random, n: int) -> dict[str, Any]:
    family, given = rng.choice(FAMILIES), rng.choice(GIVEN)
    return {
        "resourceType": "Patient", "id": f"pat-{n}",
        "identifier": [{"system": "http://hospital.example.org/mrn", "value": f"MRN{100000 + n}"}],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "telecom": [{"system": "phone", "value": f"+1 307 555 {n % 10000:04d}"}],
        "gender": rng.choice(("female", "male")),
        "birthDate": f"{rng.randint(1925, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "address": [{"line": [f"{rng.randint(1, 999)} Harbour Road"], "city": "Cheyenne", "state": "WY",
                     "postalCode": f"820{rng.randint(0, 99):02d}", "country": "US"}],
    }


def _stay(rng: random.Random, h: Hospital, patient: dict[str, Any], n: int) -> list[dict[str, Any]]:
    dept = rng.randrange(len(DEPARTMENTS))
    start = (h.start_year - 1970) * YEAR_MICROS + rng.randrange(h.years * YEAR_MICROS)
    end = start + rng.randint(1, 14) * 86_400_000_000
    code, display = CONDITIONS[(dept + rng.randrange(3)) % len(CONDITIONS)]
    inpatient = rng.random() < 0.85
    death = inpatient and rng.random() < 0.04
    pid = patient["id"]
    condition = {"resourceType": "Condition", "id": f"cond-{n}", "subject": {"reference": f"Patient/{pid}"},
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": "active"}]},
                 "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
                 "encounter": {"reference": f"Encounter/enc-{n}"}, "recordedDate": to_instant(start)[:10]}
    encounter: dict[str, Any] = {
        "resourceType": "Encounter", "id": f"enc-{n}", "status": "finished",
        "class": {"system": ACT, "code": "IMP" if inpatient else "AMB"},
        "subject": {"reference": f"Patient/{pid}"},
        "participant": [{"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                               "code": "ATND"}]}],
                         "individual": {"reference": f"Practitioner/prac-{(dept * 13 + rng.randrange(13)) % h.practitioners}"}}],
        "period": {"start": to_instant(start), "end": to_instant(end)},
        "serviceProvider": {"reference": f"Organization/dept-{dept}"},
        "location": [{"location": {"reference": f"Location/ward-{dept}-{rng.randrange(3)}"}}],
        "diagnosis": [{"condition": {"reference": f"Condition/cond-{n}"}, "rank": 1}],
        "reasonCode": [{"coding": [{"system": SNOMED, "code": code, "display": display}]}],
    }
    if inpatient:
        disposition = "exp" if death and rng.random() < 0.7 else "home"
        encounter["hospitalization"] = {"dischargeDisposition": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/discharge-disposition", "code": disposition}]}}
        if death:
            patient["deceasedDateTime"] = to_instant(end - 3_600_000_000)
    out = [encounter, condition]
    for k in range(h.observations_per_stay):
        at = start + k * 3_600_000_000
        out.append({"resourceType": "Observation", "id": f"obs-{n}-{k}", "status": "final",
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                              "code": "vital-signs"}]}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
                    "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/enc-{n}"},
                    "effectiveDateTime": to_instant(at), "valueQuantity": {
                        "value": rng.randint(50, 130), "unit": "/min", "system": "http://unitsofmeasure.org",
                        "code": "/min"}})
    return out


def generate(h: Hospital) -> Iterator[dict[str, Any]]:
    """Every resource of the hospital, reference targets before the resources pointing at them."""
    rng = random.Random(h.seed)
    for n in range(len(DEPARTMENTS)):
        yield _org(n)
        for ward in range(3):
            yield {"resourceType": "Location", "id": f"ward-{n}-{ward}", "status": "active",
                   "name": f"{DEPARTMENTS[n]} ward {ward + 1}", "managingOrganization": {"reference": f"Organization/dept-{n}"}}
    for n in range(h.practitioners):
        yield {"resourceType": "Practitioner", "id": f"prac-{n}", "active": True,
               "name": [{"family": rng.choice(FAMILIES), "given": [rng.choice(GIVEN)], "prefix": ["Dr"]}]}
    stay = 0
    for n in range(h.patients):
        patient = _patient(rng, n)
        stays: list[dict[str, Any]] = []
        for _ in range(h.stays_per_patient):
            stays.extend(_stay(rng, h, patient, stay))
            stay += 1
        yield patient
        yield from stays


# -- writing -----------------------------------------------------------------------------------

_COLUMNS = {kind: [c.name for c in table.columns if c.name != "pk"] for kind, table in SEARCH_INDEX_TABLES.items()}
_worker_state: dict[str, Any] = {}


def _init_worker(key: bytes) -> None:
    from fhir_server.search import SearchRegistry
    from fhir_server.storage.crypto import Keyring

    _worker_state["registry"] = SearchRegistry.from_definitions()
    _worker_state["keyring"] = Keyring([], key)


def _prepare(batch: list[tuple[int, dict[str, Any]]], last_updated: int) -> list[tuple[Any, ...]]:
    """(pk, type, id, lu, sealed, index rows) per resource: the CPU-bound half, in a worker process."""
    from fhir_server.search import extract
    from fhir_server.storage.crypto import associated_data

    registry, keyring = _worker_state["registry"], _worker_state["keyring"]
    out = []
    for pk, resource in batch:
        resource["meta"] = {"versionId": "1", "lastUpdated": to_instant(last_updated)}
        body = fhir_json.dumps(resource)
        sealed = keyring.seal(body, associated_data(resource["resourceType"], resource["id"], 1))
        rows = extract(registry, resource)
        index = {kind: [tuple(row.get(c) for c in _COLUMNS[kind][2:]) for row in kind_rows]
                 for kind, kind_rows in rows.items() if kind_rows}
        out.append((pk, resource["resourceType"], resource["id"], last_updated, sealed, index))
    return out


async def _insert(store: ResourceStore, prepared: list[tuple[Any, ...]]) -> None:
    resources = [(pk, t, i, 1, lu, False, sealed) for pk, t, i, lu, sealed, _ in prepared]
    versions = [(pk, pk, t, i, 1, lu, False, "POST", sealed) for pk, t, i, lu, sealed, _ in prepared]
    index: dict[str, list[tuple[Any, ...]]] = {}
    for pk, t, _, _, _, rows in prepared:
        for kind, kind_rows in rows.items():
            index.setdefault(kind, []).extend((pk, t, *row) for row in kind_rows)
    async with store.write() as tx:
        if store.is_sqlite:
            raw = tx.db.raw  # type: ignore[attr-defined]
            await raw.executemany("INSERT INTO resources (pk, res_type, res_id, version_id, last_updated, deleted, "
                                  "body) VALUES (?, ?, ?, ?, ?, ?, ?)", resources)
            await raw.executemany("INSERT INTO resource_versions (pk, resource_pk, res_type, res_id, version_id, "
                                  "last_updated, deleted, method, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", versions)
            for kind, rows in index.items():
                columns = _COLUMNS[kind]
                await raw.executemany(f"INSERT INTO {SEARCH_INDEX_TABLES[kind].name} ({', '.join(columns)}) "
                                      f"VALUES ({', '.join('?' for _ in columns)})", rows)
            return
        raw = tx.db.raw  # type: ignore[attr-defined]
        await raw.copy_records_to_table("resources", records=resources, columns=[
            "pk", "res_type", "res_id", "version_id", "last_updated", "deleted", "body"])
        await raw.copy_records_to_table("resource_versions", records=versions, columns=[
            "pk", "resource_pk", "res_type", "res_id", "version_id", "last_updated", "deleted", "method", "body"])
        for kind, rows in index.items():
            await raw.copy_records_to_table(SEARCH_INDEX_TABLES[kind].name, records=rows, columns=_COLUMNS[kind])


async def write_all(store: ResourceStore, key: bytes, resources: Iterator[dict[str, Any]], *,
                    batch_size: int = 2000, processes: int | None = None) -> int:
    """Write every resource as version 1; returns how many. `key` is the store's active AES key."""
    async with store.read() as tx:
        first = (await tx.db.fetchval("SELECT COALESCE(MAX(pk), 0) FROM resources")) + 1
    loop = asyncio.get_running_loop()
    written = 0
    pending: list[asyncio.Future[list[tuple[Any, ...]]]] = []
    with ProcessPoolExecutor(max_workers=processes or os.cpu_count() or 1, initializer=_init_worker,
                             initargs=(key,)) as pool:
        batch: list[tuple[int, dict[str, Any]]] = []
        for resource in resources:
            batch.append((first + written, resource))
            written += 1
            if len(batch) == batch_size:
                pending.append(loop.run_in_executor(pool, _prepare, batch, now_micros()))
                batch = []
                if len(pending) >= 4:
                    await _insert(store, await pending.pop(0))
        if batch:
            pending.append(loop.run_in_executor(pool, _prepare, batch, now_micros()))
        for future in pending:
            await _insert(store, await future)
    if not store.is_sqlite:
        async with store.write() as tx:
            for table in ("resources", "resource_versions"):
                await tx.db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'pk'), "
                                    f"(SELECT MAX(pk) FROM {table}))")
    return written


# -- a database of its own ---------------------------------------------------------------------

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def create_database(backend: str, admin_url: str, data_dir: Any) -> tuple[Any, bytes]:
    """Fresh Settings (a new database, migrated, with a new key) and the key's bytes."""
    import base64
    import secrets

    import asyncpg

    from fhir_server.config import Settings
    from fhir_server.db import migrate

    key = secrets.token_bytes(32)
    common = {"data_dir": data_dir, "dev_mode": True, "encryption_key": base64.b64encode(key).decode()}
    if backend == "sqlite":
        settings = Settings(**common)
    else:
        name = f"fhir_bench_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        settings = Settings(**common, database_url=f"{admin_url.rpartition('/')[0]}/{name}")
    data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
    return settings, key


async def drop_database(settings: Any, admin_url: str) -> None:
    import asyncpg

    if settings.is_sqlite:
        return
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{settings.database_url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await conn.close()


async def store_for(settings: Any, key: bytes) -> ResourceStore:
    """A ResourceStore on the bench database (for writing the data set); close with `close_store`."""
    from fhir_server.db.engine import create_engine
    from fhir_server.storage.crypto import Keyring
    from fhir_server.storage.driver import create_pg_pool

    pool = None if settings.is_sqlite else await create_pg_pool(settings.driver_dsn, size=4)
    return ResourceStore(create_engine(settings.sqlalchemy_url), Keyring([], key), pg_pool=pool)


async def close_store(store: ResourceStore) -> None:
    if store.pg_pool is not None:
        await store.pg_pool.close()
    await store.engine.dispose()


async def analyze(store: ResourceStore) -> None:
    async with store.write() as tx:
        await tx.db.execute("ANALYZE")
