"""Mortality analytics benchmark: `$evaluate-measure` over 100,000 inpatient-sized encounters.

    python bench/measure_load.py [--backend postgresql|sqlite] [--encounters 100000] [--admin-url URL]

Writes a synthetic hospital (`export_dataset.py`: one Condition per stay, about 85% inpatient, 4%
deaths) into a new database, builds the `analytics_encounters` projection with the `analytics.rebuild`
job chain (timed: what an existing database pays once), then times, over HTTP through the app
(in-process ASGI, dev mode): `$evaluate-measure` for two years (population and one practitioner),
`$mortality` as CSV by department and quarter, and the dashboard page. Prints a table and one JSON
line (BENCH_SUMMARY). Target: `$evaluate-measure` over 100,000 encounters <= 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.export_dataset import (  # noqa: E402
    DEFAULT_ADMIN,
    Hospital,
    analyze,
    close_store,
    create_database,
    drop_database,
    generate,
    store_for,
    write_all,
)

REQUESTS = {
    "evaluate-measure (population)": "/fhir/Measure/in-hospital-mortality/$evaluate-measure"
                                     "?periodStart=2023-01-01&periodEnd=2024-12-31",
    "evaluate-measure (practitioner)": "/fhir/Measure/in-hospital-mortality/$evaluate-measure"
                                       "?periodStart=2023-01-01&periodEnd=2024-12-31&practitioner=prac-7",
    "evaluate-measure (one quarter)": "/fhir/Measure/in-hospital-mortality/$evaluate-measure"
                                      "?periodStart=2024-01-01&periodEnd=2024-03-31",
    "$mortality CSV by department": "/fhir/$mortality?by=department&period=quarter&periodStart=2023-01-01"
                                    "&periodEnd=2024-12-31&_format=csv",
    "dashboard page": "/dashboard/mortality?periodStart=2023-01-01&periodEnd=2024-12-31",
}


async def measure(settings: object, repeats: int) -> dict[str, object]:
    from fhir_server.app import create_app

    app = create_app(settings)  # type: ignore[arg-type]
    out: dict[str, object] = {}
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        started = time.perf_counter()
        await runtime.analytics.rebuild.ensure()
        slices = await runtime.worker(slots=1).run_until_idle()
        out["rebuild_seconds"] = round(time.perf_counter() - started, 2)
        out["rebuild_slices"] = slices
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
            for label, url in REQUESTS.items():
                timings = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    response = await http.get(url)
                    timings.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text[:500]
                out[label] = {"median_s": round(statistics.median(timings), 3), "min_s": round(min(timings), 3),
                              "max_s": round(max(timings), 3)}
                if "population" in label:
                    group = response.json()["group"][0]
                    out["denominator"] = next(p["count"] for p in group["population"]
                                              if p["code"]["coding"][0]["code"] == "denominator")
                    out["numerator"] = next(p["count"] for p in group["population"]
                                            if p["code"]["coding"][0]["code"] == "numerator")
    return out


async def main(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="measure-bench-"))
    settings, key = await create_database(args.backend, args.admin_url, directory / "data")
    try:
        store = await store_for(settings, key)
        started = time.perf_counter()
        hospital = Hospital(patients=args.encounters // 2, stays_per_patient=2, observations_per_stay=0)
        written = await write_all(store, key, generate(hospital))
        if not store.is_sqlite:
            await analyze(store)
        await close_store(store)
        print(f"wrote {written:,} resources ({args.encounters:,} encounters) in {time.perf_counter() - started:.0f} s "
              f"({args.backend})", file=sys.stderr)
        result = await measure(settings, args.repeats)
        print(f"projection rebuilt in {result['rebuild_seconds']} s ({result['rebuild_slices']} slices); "
              f"{result['denominator']:,} inpatient stays, {result['numerator']:,} deaths")
        for label in REQUESTS:
            timing = result[label]
            print(f"{label:>34}: median {timing['median_s']:.3f} s (min {timing['min_s']:.3f}, "  # type: ignore[index]
                  f"max {timing['max_s']:.3f})")  # type: ignore[index]
        print("BENCH_SUMMARY " + json.dumps({"backend": args.backend, "encounters": args.encounters,
                                             "resources": written, **result}))
    finally:
        await drop_database(settings, args.admin_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--encounters", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN)
    asyncio.run(main(parser.parse_args()))
