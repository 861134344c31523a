"""AI pipeline worker cost: CPU per assessment job, in the worker and in PostgreSQL.

    .venv/bin/python bench/ai_worker_load.py [--patients 100] [--rounds 4] [--postgres URL]

Creates a scratch database on the PostgreSQL server (dropped afterwards), migrates it and starts a
runtime in this process without a running worker. Each round writes 5 lab results (glucose,
creatinine, sodium, potassium, calcium) for every one of `--patients` patients through the service
layer, which queues one assessment job per patient, then runs the job worker until the queue is
empty (`Worker.run_until_idle`, batches as `fhir-server worker` runs them). The tables are analyzed
before each round, as autovacuum would keep them. Per round: jobs, batches, wall time per job, this
process's CPU per job (the worker) and the CPU per job of the PostgreSQL backends serving the
scratch database (`auth_cost.server_cpu_seconds`, from /proc). Later rounds read a longer history per patient.

Prints the figures and one JSON line (BENCH_SUMMARY). Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.auth_cost import server_cpu_seconds  # noqa: E402
from bench.rest_load import admin  # noqa: E402
from fhir_server.bootstrap import Runtime, start_runtime  # noqa: E402
from fhir_server.config import Settings  # noqa: E402
from fhir_server.context import DEV_PRINCIPAL, RequestContext  # noqa: E402
from fhir_server.db import migrate  # noqa: E402

RESULTS = [("2345-7", "Glucose", "mg/dL", "95"), ("2160-0", "Creatinine", "mg/dL", "0.9"),
           ("2951-2", "Sodium", "mmol/L", "140"), ("2823-3", "Potassium", "mmol/L", "4.1"),
           ("17861-6", "Calcium", "mg/dL", "9.5")]
LAB = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}]


async def write_results(runtime: Runtime, ctx: RequestContext, patient: str, day: int) -> None:
    for code, name, unit, value in RESULTS:
        await runtime.services.resources.create(ctx, "Observation", {
            "resourceType": "Observation", "status": "final", "category": LAB,
            "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": name}]},
            "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": f"2026-11-{day:02d}T08:30:00+00:00",
            "valueQuantity": {"value": Decimal(value), "unit": unit, "system": "http://unitsofmeasure.org",
                              "code": unit}})


async def run(admin_url: str, patients: int, rounds: int) -> list[dict[str, float]]:
    name = f"fhir_bench_ai_{secrets.token_hex(4)}"
    await admin(admin_url, f'CREATE DATABASE "{name}"')
    url = f"{admin_url.rpartition('/')[0]}/{name}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), database_url=url, dev_mode=True, database_analyze_seconds=0)
            await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
            runtime = await start_runtime(settings)
            try:
                return await rounds_of(runtime, url, name, patients, rounds)
            finally:
                await runtime.close()
    finally:
        await admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def rounds_of(runtime: Runtime, url: str, database: str, patients: int, rounds: int) -> list[dict[str, float]]:
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://bench/fhir")
    ids = [f"bench-{n}" for n in range(patients)]
    for pid in ids:
        await runtime.services.resources.update(ctx, "Patient", pid, {
            "resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1958-03-12"})
    worker = runtime.worker(slots=1)
    figures = []
    for number in range(rounds):
        for pid in ids:
            await write_results(runtime, ctx, pid, 10 + number)
        await admin(url, "ANALYZE")
        cpu, backends, wall = time.process_time(), server_cpu_seconds(-1, database)[1], time.perf_counter()
        batches = await worker.run_until_idle()
        cpu, backends, wall = (time.process_time() - cpu, server_cpu_seconds(-1, database)[1] - backends,
                               time.perf_counter() - wall)
        async with runtime.store.single() as db:
            jobs = await db.fetchval("SELECT count(*) FROM jobs WHERE kind = 'ai-pipeline.assess' AND status = 'done' "
                                     "AND updated_at >= $1", int((time.time() - wall - 1) * 1_000_000))
        figures.append({"round": number + 1, "jobs": jobs, "batches": batches,
                        "wall_ms_per_job": round(1000 * wall / max(jobs, 1), 1),
                        "worker_cpu_ms_per_job": round(1000 * cpu / max(jobs, 1), 1),
                        "postgres_cpu_ms_per_job": round(1000 * backends / max(jobs, 1), 1)})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test", help="admin URL")
    args = parser.parse_args()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"AI worker cost on PostgreSQL: {args.patients} patients x 5 results per round; cores: {os.cpu_count()}, "
          f"load average at start: {load}")
    figures = asyncio.run(run(args.postgres, args.patients, args.rounds))
    for row in figures:
        print(f"round {row['round']}: {row['jobs']} jobs in {row['batches']} batches; per job: wall "
              f"{row['wall_ms_per_job']} ms, worker CPU {row['worker_cpu_ms_per_job']} ms, "
              f"PostgreSQL CPU {row['postgres_cpu_ms_per_job']} ms")
    print("BENCH_SUMMARY " + json.dumps({"patients": args.patients, "rounds": figures, "loadavg_before": load}))


if __name__ == "__main__":
    main()
