"""AI pipeline latency: from a committed lab result to its RiskAssessment, and OCR per page.

    .venv/bin/python bench/ai_latency.py [--samples 40] [--pages 4] [--postgres URL]

1. End to end (text path): a runtime with its job worker running as in `fhir-server all` (two slots,
   polling every 0.5 s); each sample creates a Patient and a potassium Observation through the
   service layer and waits for the hyperkalaemia RiskAssessment the worker writes. The time runs
   from the moment the Observation's transaction committed to the moment the RiskAssessment is
   readable, once with the job wake-ups turned off (the worker only polls) and once as the server
   runs (woken at commit: an in-process signal on SQLite, LISTEN/NOTIFY on PostgreSQL). On SQLite in
   a temporary directory, and on PostgreSQL when `--postgres` names a server (a scratch database is
   created there and dropped), where a third run has the worker in another process
   (`fhir-server worker`), woken by NOTIFY across processes.
2. OCR: synthetic 300-dpi A4 lab reports (20 rows, the test suite's generator) read with Tesseract,
   wall and CPU seconds per page; and the same rows as a PDF with a text layer.

Prints the machine's load average next to the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ai_pipeline.document import OcrSettings  # noqa: E402
from ai_pipeline.ocr import read_document  # noqa: E402
from ai_pipeline.write_back import derived_id  # noqa: E402
from fhir_server.bootstrap import Runtime, start_runtime  # noqa: E402
from fhir_server.config import Settings  # noqa: E402
from fhir_server.context import DEV_PRINCIPAL, RequestContext  # noqa: E402
from fhir_server.db import migrate  # noqa: E402
from fhir_server.jobs import Wakeups  # noqa: E402
from tests.ai_pipeline.report_samples import encoded, render_page, report_rows, text_pdf  # noqa: E402

RULE = "ukka-hyperkalaemia-2020"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def describe(values: list[float]) -> str:
    return (f"n={len(values)} p50={statistics.median(values) * 1000:.0f} ms "
            f"p95={percentile(values, 0.95) * 1000:.0f} ms max={max(values) * 1000:.0f} ms")


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


class NoWakeups(Wakeups):
    """Wake-ups turned off: the worker finds jobs by polling only (commits still signal; nobody listens)."""

    @contextlib.asynccontextmanager
    async def listening(self, kinds: object, event: object) -> AsyncIterator[None]:
        yield


async def end_to_end(settings: Settings, samples: int, *, mode: str) -> list[float]:
    """`mode`: polled (wake-ups off), woken (as the server runs), other-process (no worker here)."""
    runtime = await start_runtime(settings)
    if mode == "polled":
        runtime.jobs.wakeups = NoWakeups(runtime.store)
    worker = runtime.worker(slots=2)
    running = asyncio.create_task(worker.run()) if mode != "other-process" else None
    try:
        if mode == "woken" and not runtime.store.is_sqlite:
            await asyncio.wait_for(runtime.jobs.wakeups.connected.wait(), 10)
        await asyncio.sleep(1.0)  # the worker (wherever it runs) has polled once and waits
        return [await sample(runtime, n) for n in range(samples)]
    finally:
        worker.stop()
        if running is not None:
            await running
        await runtime.close()


async def sample(runtime: Runtime, n: int) -> float:
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://bench/fhir")
    resources = runtime.services.resources
    pid = f"bench-{secrets.token_hex(4)}-{n}"
    await resources.update(ctx, "Patient", pid, {"resourceType": "Patient", "id": pid, "gender": "female",
                                                 "birthDate": "1958-03-12"})
    await resources.create(ctx, "Observation", {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}]},
        "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-11-20T08:30:00+00:00",
        "valueQuantity": {"value": Decimal("6.9"), "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                          "code": "mmol/L"}})
    committed = time.perf_counter()
    target = derived_id("RiskAssessment", f"Patient/{pid}", RULE)
    while await runtime.store.read_current("RiskAssessment", target) is None:
        if time.perf_counter() - committed > 30:
            raise RuntimeError(f"no RiskAssessment for Patient/{pid} after 30 s")
        await asyncio.sleep(0.005)
    return time.perf_counter() - committed


async def other_process(settings: Settings, samples: int) -> list[float]:
    """`fhir-server worker` in a process of its own, the samples written from this one."""
    env = {**os.environ, "FHIR_DATABASE_URL": settings.database_url, "FHIR_DATA_DIR": str(settings.data_dir),
           "FHIR_LOG_LEVEL": "warning"}
    child = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("fhir-server")), "worker", "--slots", "2", env=env,
        stderr=asyncio.subprocess.PIPE)
    assert child.stderr is not None
    try:
        while b"running job kinds" not in await asyncio.wait_for(child.stderr.readline(), 120):
            if child.returncode is not None:
                raise RuntimeError("fhir-server worker did not start")
        draining = asyncio.create_task(child.stderr.read())  # its log, so the pipe never fills
        latencies = await end_to_end(settings, samples, mode="other-process")
    finally:
        child.terminate()
        await child.wait()
    await draining
    return latencies


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def on_postgres(admin_url: str, samples: int, data_dir: Path) -> dict[str, list[float]]:
    name = f"fhir_bench_{secrets.token_hex(4)}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        url = f"{admin_url.rpartition('/')[0]}/{name}"
        settings = Settings(data_dir=data_dir, database_url=url, dev_mode=True)
        await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
        return {mode: await end_to_end(settings, samples, mode=mode) for mode in ("polled", "woken")} | {
            "other-process": await other_process(settings, samples)}
    finally:
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ocr(pages: int) -> None:
    settings = OcrSettings()
    walls, cpus = [], []
    for seed in range(pages):
        image = encoded(render_page(report_rows(seed)), "PNG")
        started = time.perf_counter()
        document = read_document(image, settings)
        walls.append(time.perf_counter() - started)
        cpus.append(sum(page.cpu_seconds for page in document.pages))
    print(f"OCR, 300-dpi A4 page (PNG, 20 rows): wall {describe(walls)}; "
          f"Tesseract CPU mean {statistics.mean(cpus):.2f} s  [load {load()}]")
    pdf = text_pdf([report_rows(seed) for seed in range(pages)])
    started = time.perf_counter()
    document = read_document(pdf, settings)
    per_page = (time.perf_counter() - started) / len(document.pages)
    print(f"PDF text layer: {per_page * 1000:.1f} ms per page over {len(document.pages)} pages  [load {load()}]")


MODES = {"polled": "wake-ups off, worker polling every 0.5 s", "woken": "worker woken at commit",
         "other-process": "worker in another process, woken by NOTIFY"}


def report(database: str, runs: dict[str, list[float]]) -> None:
    for mode, latencies in runs.items():
        print(f"lab Observation -> RiskAssessment, {database}, {MODES[mode]}: {describe(latencies)}  "
              f"[load {load()}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--postgres", default=None, help="admin URL, e.g. postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}  load average at start: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "sqlite", dev_mode=True)
        report("SQLite", {mode: asyncio.run(end_to_end(settings, args.samples, mode=mode))
                          for mode in ("polled", "woken")})
        if args.postgres:
            report("PostgreSQL", asyncio.run(on_postgres(args.postgres, args.samples, Path(tmp) / "pg")))
    ocr(args.pages)


if __name__ == "__main__":
    main()
