"""Bulk export benchmark: throughput (resources/s) and peak RSS of the exporting process.

    python bench/export_load.py [--backend postgresql|sqlite] [--resources 100000] [--admin-url URL]
                                [--keep DIR]

Writes a synthetic hospital (Patients, Encounters, Conditions, Observations; `export_dataset.py`)
into a new database, then runs a system-level `$export` to completion in a fresh process, twice:
plain and `_deidentify=safe-harbor`. Each run goes through the real path: kick-off, the durable job
chain (slices of `bulk.export`), version scans in bounded batches, AES-GCM opening, NDJSON files.
The exporting process reports its own wall time and peak RSS (ru_maxrss). Prints a table and one
JSON line (BENCH_SUMMARY). Targets: >= 20,000 resources/s plain, >= 10,000/s de-identified,
<= 300 MB peak RSS at 1,000,000 resources.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.export_dataset import (  # noqa: E402
    DEFAULT_ADMIN,
    analyze,
    close_store,
    create_database,
    drop_database,
    generate,
    hospital_of_size,
    store_for,
    write_all,
)


async def _export(settings_json: str, deidentify: str | None) -> dict[str, object]:
    """Runs in the child process: one export, start to finish, with the worker in this process."""
    from fhir_server.bootstrap import start_runtime
    from fhir_server.bulk.request import ExportRequest
    from fhir_server.config import Settings
    from fhir_server.context import DEV_PRINCIPAL, RequestContext

    settings = Settings.model_validate_json(settings_json)
    runtime = await start_runtime(settings)
    try:
        exports = runtime.bulk_exports
        assert exports is not None
        base = "http://bench/fhir"
        started = time.perf_counter()
        export_id = await exports.kick_off(RequestContext(DEV_PRINCIPAL, base),
                                           ExportRequest(level="system", deidentify=deidentify, base_url=base),
                                           request_url=f"{base}/$export")
        slices = await runtime.worker(slots=1).run_until_idle()
        elapsed = time.perf_counter() - started
        status = await exports.status(DEV_PRINCIPAL, export_id, base)
        assert status.manifest is not None, status
        count = sum(item["count"] for item in status.manifest["output"])
        size = sum(path.stat().st_size for path in exports.files.directory(export_id).iterdir())
        return {"resources": count, "seconds": round(elapsed, 2), "per_second": round(count / elapsed),
                "slices": slices, "files": len(status.manifest["output"]), "bytes": size,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    finally:
        await runtime.close()


def export_in_child(settings_json: str, deidentify: str | None) -> dict[str, object]:
    args = [sys.executable, __file__, "--child", settings_json] + (["--deidentify", deidentify] if deidentify else [])
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the export process failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


async def main(args: argparse.Namespace) -> None:
    directory = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="export-bench-"))
    settings, key = await create_database(args.backend, args.admin_url, directory / "data")
    try:
        store = await store_for(settings, key)
        started = time.perf_counter()
        written = await write_all(store, key, generate(hospital_of_size(args.resources)))
        if not store.is_sqlite:
            await analyze(store)
        await close_store(store)
        load_seconds = time.perf_counter() - started
        print(f"wrote {written:,} resources in {load_seconds:.0f} s ({args.backend})", file=sys.stderr)
        runs = {}
        for label, mode in (("plain", None), ("safe-harbor", "safe-harbor")):
            runs[label] = export_in_child(settings.model_dump_json(), mode)
            run = runs[label]
            print(f"{label:>12}: {run['resources']:>9,} resources in {run['seconds']:>7.2f} s = "
                  f"{run['per_second']:>7,}/s, peak RSS {run['peak_rss_mb']} MB, {run['slices']} slices, "
                  f"{run['files']} files, {run['bytes'] / 1e6:.0f} MB")
        print("BENCH_SUMMARY " + json.dumps({"backend": args.backend, "resources": written, "runs": runs}))
    finally:
        await drop_database(settings, args.admin_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN)
    parser.add_argument("--keep", help="data directory to use (kept afterwards)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--deidentify", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(asyncio.run(_export(arguments.child, arguments.deidentify))))
    else:
        asyncio.run(main(arguments))
