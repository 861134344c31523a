"""Audit trail micro-benchmark on PostgreSQL: how fast reads' AuditEvents become durable, and how fast
the log turns into AuditEvent resources.

    python bench/audit_load.py [--admin-url postgresql://postgres@127.0.0.1:5432/test] [--duration 10]
                               [--callers 32] [--batch-size 500] [--flushers 2] [--materialize 10000]

1. `record()` with `--callers` concurrent callers, each awaiting one read's AuditEvent at a time
   (group commit), next to the same callers each committing its own transaction (no grouping).
2. Materialization of `--materialize` events of that backlog (validate, index, seal: `batch_size` a
   transaction, as the `audit.materialize` job does).

In process, on the server's own runtime (`start_runtime`). Creates its own database and drops it
afterwards. Prints a table and one JSON line (BENCH_SUMMARY) with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rest_load import admin  # noqa: E402
from fhir_server.auth.audit import rest_event  # noqa: E402
from fhir_server.bootstrap import start_runtime  # noqa: E402
from fhir_server.config import Settings  # noqa: E402
from fhir_server.context import Principal  # noqa: E402
from fhir_server.db import migrate  # noqa: E402
from fhir_server.services.audit import AuditTrail  # noqa: E402
from fhir_server.storage.crypto import generate_key  # noqa: E402

DOCTOR = Principal(subject="dr-1", role="doctor", scopes=frozenset({"user/*.rs"}), client_id="ehr",
                   fhir_user="Practitioner/dr-1")


def event(n: int) -> dict[str, object]:
    return rest_event(DOCTOR, interaction="read", res_type="Observation", res_id=f"obs-{n}",
                      patients=[f"patient-{n % 500}"], network_address="10.0.0.7")


async def load(callers: int, duration: float, record: Callable[[list[dict[str, object]]], Awaitable[None]]
               ) -> dict[str, float]:
    """`callers` loops, each recording one event and waiting for it, for `duration` seconds."""
    latencies: list[float] = []
    deadline = time.monotonic() + duration

    async def caller(number: int) -> None:
        n = number
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await record([event(n)])
            latencies.append(time.perf_counter() - started)
            n += callers

    started = time.monotonic()
    await asyncio.gather(*(caller(n) for n in range(callers)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"events": len(latencies), "per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2)}


async def bench(settings: Settings, args: argparse.Namespace) -> dict[str, object]:
    runtime = await start_runtime(settings)
    trail = AuditTrail(store=runtime.store, resources=runtime.services.resources, jobs=runtime.jobs,
                       batch_size=args.batch_size, flushers=args.flushers)
    try:
        async def own_transaction(events: list[dict[str, object]]) -> None:
            async with runtime.store.write() as tx:
                await trail.record_in(tx, events)

        ungrouped = await load(args.callers, args.duration, own_transaction)
        await trail.start()
        grouped = await load(args.callers, args.duration, trail.record)
        grouped["flushes"] = trail.flushes
        grouped["flushers"] = args.flushers
        grouped["events_per_flush"] = round(trail.flushed / max(trail.flushes, 1), 1)
        await trail.close()

        backlog = await trail.log.pending()
        materialized = 0
        started = time.monotonic()
        while materialized < args.materialize:
            async with runtime.store.write() as tx:
                written = await trail.materialize_in(tx)
            materialized += written
            if written < args.batch_size:
                break
        elapsed = time.monotonic() - started
        return {"record_grouped": grouped, "record_own_transaction": ungrouped,
                "materialize": {"events": materialized, "backlog": backlog, "seconds": round(elapsed, 2),
                                "per_second": round(materialized / elapsed, 1), "batch_size": args.batch_size}}
    finally:
        await runtime.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("FHIR_TEST_POSTGRES_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--flushers", type=int, default=2)
    parser.add_argument("--materialize", type=int, default=10_000, help="events to materialize from the backlog")
    args = parser.parse_args()

    name = f"fhir_bench_{secrets.token_hex(4)}"
    db_url = f"{args.admin_url.rpartition('/')[0]}/{name}"
    asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{name}"'))
    try:
        settings = Settings(database_url=db_url, data_dir=Path(tempfile.mkdtemp(prefix="fhir-bench-")),
                            encryption_key=generate_key())
        migrate.upgrade(settings.sqlalchemy_url)
        load_before = os.getloadavg()
        figures = asyncio.run(bench(settings, args))
        load_after = os.getloadavg()
    finally:
        asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    grouped, own, materialize = figures["record_grouped"], figures["record_own_transaction"], figures["materialize"]
    print(f"audit trail on PostgreSQL, {args.callers} concurrent callers, {args.duration:g} s each "
          f"({platform.node()}, {os.cpu_count()} CPUs, load {load_before[0]:.2f} -> {load_after[0]:.2f})")
    print(f"  record() group commit      {grouped['per_second']:>9} events/s  p50 {grouped['p50_ms']} ms  "
          f"p99 {grouped['p99_ms']} ms  ({grouped['events_per_flush']} events per commit, "
          f"{args.flushers} flushers)")
    print(f"  own transaction per event  {own['per_second']:>9} events/s  p50 {own['p50_ms']} ms  "
          f"p99 {own['p99_ms']} ms")
    print(f"  materialize                {materialize['per_second']:>9} events/s  ({materialize['events']} events "
          f"in {materialize['seconds']} s, {materialize['batch_size']} a transaction)")
    print("BENCH_SUMMARY " + json.dumps({**figures, "callers": args.callers, "duration": args.duration,
                                          "loadavg_before": load_before, "loadavg_after": load_after}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
