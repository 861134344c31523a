"""Ingest benchmark: transaction Bundles over HTTP and NDJSON through `fhir-server import`.

    python bench/ingest_load.py [--resources 100000] [--drift-resources 1000000]
                                [--backends postgresql,sqlite] [--concurrency 4] [--bundle-size 100]
                                [--server-workers 2] [--import-workers N] [--admin-url postgresql://postgres@127.0.0.1:5432/test]

For each backend, on a fresh database (PostgreSQL: a random-named database, dropped afterwards;
SQLite: a temporary data directory):

1. `fhir-server serve --dev --workers 2`, then the demo data set (generated, deterministic, each
   patient's resources together so the workload is even from start to end) POSTed as transaction
   Bundles of `--bundle-size` PUT entries by `--concurrency` clients: resources/s.
2. On another fresh database, the same data as NDJSON through `fhir-server import`: resources/s, the
   rate of the last 10% of the load against the first 10%, the importer's peak memory (RSS of
   its own process; PSS of it with its staging workers, which share the parent's pages), and the CPU
   time spent per resource by the importer with its workers and by the database's backends (a local
   PostgreSQL): on a shared machine the rates follow its load, the CPU time per resource much less.
3. With `--drift-resources`, a larger NDJSON import (PostgreSQL) for the first/last 10% comparison.
   The cluster's `shared_buffers` is printed with it: an import slows as its indexes outgrow it.

The machine's speed at the start and the end (`cpu_floor`: 20 million Python additions on one core)
is printed too: on a shared VM it moves the rates by a third from one hour to the next.

Prints a table and one JSON line (BENCH_SUMMARY) with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.rest_load import admin, free_port  # noqa: E402
from fhir_server.demo import generate  # noqa: E402

RESOURCES_PER_PATIENT = 55  # what the demo generator averages


class Database:
    """A fresh database for one run: PostgreSQL (created, dropped after) or a SQLite data dir."""

    def __init__(self, backend: str, admin_url: str, scratch: Path) -> None:
        self.backend = backend
        self.admin_url = admin_url
        self.data_dir = Path(tempfile.mkdtemp(prefix="ingest-", dir=scratch))
        self.name = f"ingest_{secrets.token_hex(6)}"
        self.env = {"FHIR_DATA_DIR": str(self.data_dir), "FHIR_LOG_LEVEL": "warning"}

    def __enter__(self) -> Database:
        if self.backend == "postgresql":
            asyncio.run(admin(self.admin_url, f'CREATE DATABASE "{self.name}"'))
            self.env["FHIR_DATABASE_URL"] = f"{self.admin_url.rsplit('/', 1)[0]}/{self.name}"
            self.env["FHIR_ENCRYPTION_KEY"] = run([str(BIN / "fhir-server"), "keys", "generate"], self.env).strip()
            run([str(BIN / "fhir-server"), "migrate"], self.env)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.backend == "postgresql":
            asyncio.run(admin(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        subprocess.run(["rm", "-rf", str(self.data_dir)], check=False)


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def records(data: Path) -> Iterator[bytes]:
    for path in sorted(data.glob("*.ndjson")):
        with path.open("rb") as handle:
            yield from (line.rstrip(b"\n") for line in handle if line.strip())


def bundles(data: Path, size: int) -> Iterator[tuple[int, bytes]]:
    """(entry count, body) of transaction Bundles of PUT entries, built from the NDJSON bytes as they are."""
    entries: list[bytes] = []
    for line in records(data):
        head = orjson.loads(line)
        url = f"{head['resourceType']}/{head['id']}".encode()
        entries.append(b'{"resource":' + line + b',"request":{"method":"PUT","url":"' + url + b'"}}')
        if len(entries) == size:
            yield size, b'{"resourceType":"Bundle","type":"transaction","entry":[' + b",".join(entries) + b"]}"
            entries = []
    if entries:
        yield len(entries), b'{"resourceType":"Bundle","type":"transaction","entry":[' + b",".join(entries) + b"]}"


def start_server(env: dict[str, str], workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    handle = log.open("wb")
    process = subprocess.Popen([str(BIN / "fhir-server"), "serve", "--dev", "--workers", str(workers), "--port",
                                str(port)], env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    ready = 0
    while time.monotonic() < deadline and ready < 2 * workers:
        try:
            ready += httpx.get(f"{base}/health", timeout=2).json().get("status") == "ok"
        except (httpx.HTTPError, ValueError):
            time.sleep(0.3)
    if ready < 2 * workers:
        stop(process)
        raise SystemExit(f"the server did not start; see {log}")
    return process, base


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


async def post_bundles(base: str, data: Path, size: int, concurrency: int) -> tuple[int, float]:
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue(maxsize=concurrency * 2)
    written = 0
    headers = {"content-type": "application/fhir+json", "prefer": "return=minimal"}

    async def client() -> None:
        nonlocal written
        async with httpx.AsyncClient(base_url=base, timeout=300) as http:
            while (item := await queue.get()) is not None:
                count, body = item
                response = await http.post("/fhir", content=body, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"transaction failed: {response.status_code} {response.text[:500]}")
                written += count

    async def feed() -> None:
        for item in bundles(data, size):
            await queue.put(item)
        for _ in range(concurrency):
            await queue.put(None)

    started = time.perf_counter()
    await asyncio.gather(feed(), *(client() for _ in range(concurrency)))
    return written, time.perf_counter() - started


def _memory(pid: int, path: str, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_memory(pid: int) -> tuple[int, int]:
    """(RSS of `pid`, PSS of `pid` and its children) in bytes. The staging workers are forked and
    share the parent's definitions page for page, so adding up their RSS would count those pages
    once per process; PSS (proportional set size) counts each shared page once in all."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        children = []
    return _memory(pid, "status", "VmRSS:"), sum(_memory(p, "smaps_rollup", "Pss:") for p in [pid, *children])


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def backend_cpu(database: str | None, seen: dict[int, float]) -> None:
    """Record the CPU time so far of each local PostgreSQL backend serving `database`."""
    if not database:
        return
    tag = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"postgres: ") and tag in cmdline:
            seen[int(entry.name)] = max(seen.get(int(entry.name), 0.0), _cpu_seconds(int(entry.name)))


def import_ndjson(env: dict[str, str], data: Path, workers: int | None, scratch: Path,
                  database: str | None = None) -> dict[str, float]:
    timeline = scratch / f"timeline-{secrets.token_hex(4)}.txt"
    command = [str(BIN / "fhir-server"), "import", str(data), "--no-progress", "--timeline", str(timeline)]
    if workers is not None:
        command += ["--workers", str(workers)]
    before = os.times()
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_own = peak_tree = 0
    backends: dict[int, float] = {}
    while process.poll() is None:
        own, tree = tree_memory(process.pid)
        peak_own, peak_tree = max(peak_own, own), max(peak_tree, tree)
        backend_cpu(database, backends)
        time.sleep(0.5)
    out, err = process.communicate()
    after = os.times()  # the importer and its workers, reaped: children's CPU time
    importer_cpu = after.children_user + after.children_system - before.children_user - before.children_system
    if process.returncode != 0:
        raise SystemExit(f"import failed:\n{out.decode()}\n{err.decode()[-3000:]}")
    points = [tuple(map(float, line.split())) for line in timeline.read_text().splitlines()]
    total = points[-1][1]
    deciles = _deciles(points, total)
    return {
        "resources": int(total),
        "seconds": round(points[-1][0], 1),
        "per_second": round(total / points[-1][0], 1),
        "first_10pct_per_second": deciles[0],
        "last_10pct_per_second": deciles[-1] or None,  # None: the last tenth came in one timeline point
        "deciles_per_second": deciles,
        "peak_rss_mb": round(peak_own / 2**20, 1),
        "peak_pss_with_workers_mb": round(peak_tree / 2**20, 1),
        # milliseconds of CPU per resource (the importer's include its start, a few seconds)
        "importer_cpu_ms_per_resource": round(1000 * importer_cpu / total, 3),
        "database_cpu_ms_per_resource": round(1000 * sum(backends.values()) / total, 3) if backends else None,
        "summary": out.decode().strip().splitlines()[0],
    }


def _deciles(points: list[tuple[float, ...]], total: float) -> list[float]:
    """The import's rate over each tenth of the resources, in order: where it slows, not just whether."""
    rates, start = [], (0.0, 0.0)
    for tenth in range(1, 11):
        end = next((t, n) for t, n in points if n >= tenth * total / 10)
        rates.append(round((end[1] - start[1]) / (end[0] - start[0]), 1) if end[0] > start[0] else 0.0)
        start = end
    return rates


async def shared_buffers(url: str) -> str:
    """The cluster's buffer cache: once the indexes outgrow it, each index row written costs more."""
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SHOW shared_buffers")
    finally:
        await conn.close()


def cpu_floor() -> float:
    """Seconds one core takes for 20 million Python additions: this machine's speed at the moment.
    A shared VM's varies by a third from one hour to the next, and the rates the bench prints with it."""
    started = time.process_time()
    total = 0
    for number in range(20_000_000):
        total += number
    return round(time.process_time() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("FHIR_TEST_POSTGRES_URL",
                                                               "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--drift-resources", type=int, default=0)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--bundle-size", type=int, default=100)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--import-workers", type=int, default=None)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    data = scratch / "data"
    counts = generate(data, patients=max(1, args.resources // RESOURCES_PER_PATIENT), seed=args.seed, mixed=True)
    print(f"generated {sum(counts.values()):,} resources ({os.cpu_count()} CPUs)", flush=True)
    summary: dict[str, object] = {"resources": sum(counts.values()), "cpus": os.cpu_count(),
                                  "load_average_at_start": os.getloadavg()[0], "cpu_floor_seconds_at_start": cpu_floor()}
    print(f"CPU floor (20M additions, one core): {summary['cpu_floor_seconds_at_start']} s", flush=True)
    if "postgresql" in args.backends.split(","):
        summary["postgresql_shared_buffers"] = asyncio.run(shared_buffers(args.admin_url))
        print(f"PostgreSQL shared_buffers: {summary['postgresql_shared_buffers']}", flush=True)
    for backend in args.backends.split(","):
        figures: dict[str, object] = {}
        if not args.skip_http:
            with Database(backend, args.admin_url, scratch) as database:
                process, base = start_server(database.env, args.server_workers, scratch / f"server-{backend}.log")
                try:
                    written, seconds = asyncio.run(post_bundles(base, data, args.bundle_size, args.concurrency))
                finally:
                    stop(process)
            figures["transactions"] = {"resources": written, "seconds": round(seconds, 1),
                                       "per_second": round(written / seconds, 1)}
            print(f"{backend}: transactions {written:,} resources in {seconds:.1f} s = {written / seconds:,.0f}/s",
                  flush=True)
        if not args.skip_import:
            with Database(backend, args.admin_url, scratch) as database:
                figures["import"] = result = import_ndjson(database.env, data, args.import_workers, scratch,
                                                           database.name if backend == "postgresql" else None)
            print(f"{backend}: import {json.dumps(result)}", flush=True)
        summary[backend] = figures
    if args.drift_resources:
        big = scratch / "drift"
        counts = generate(big, patients=max(1, args.drift_resources // RESOURCES_PER_PATIENT), seed=args.seed + 1,
                          mixed=True)
        backend = args.backends.split(",")[0]
        with Database(backend, args.admin_url, scratch) as database:
            summary["drift"] = result = {"backend": backend, **import_ndjson(
                database.env, big, args.import_workers, scratch, database.name if backend == "postgresql" else None)}
        print(f"{backend}: large import {json.dumps(result)}", flush=True)
    summary["load_average_at_end"] = os.getloadavg()[0]
    summary["cpu_floor_seconds_at_end"] = cpu_floor()
    print(f"CPU floor at the end: {summary['cpu_floor_seconds_at_end']} s", flush=True)
    subprocess.run(["rm", "-rf", str(scratch)], check=False)
    print("BENCH_SUMMARY " + json.dumps(summary))


if __name__ == "__main__":
    main()
