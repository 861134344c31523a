"""REST load benchmark on PostgreSQL: read, create and update throughput and latency at concurrency 32,
with a floor measured in the same run (`bench/floor_app.py`: the same primary-key SELECT, the same bytes).

    python bench/rest_load.py [--admin-url postgresql://postgres@127.0.0.1:5432/test] [--duration 15]
                              [--connections 32] [--workers 2] [--seed 2000]

Needs `wrk` (Debian package `wrk`). Creates its own database and drops it afterwards. Prints a table
and one JSON line (BENCH_SUMMARY) with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
BIN = Path(sys.executable).parent

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "http://hospital.example.org/mrn", "value": "MRN-1001"}],
    "active": True,
    "name": [{"use": "official", "family": "Okafor", "given": ["Adaeze", "N."]}],
    "telecom": [{"system": "phone", "value": "+44 113 496 0000", "use": "home"}],
    "gender": "female",
    "birthDate": "1984-03-12",
    "address": [{"line": ["12 Harbour Road"], "city": "Leeds", "postalCode": "LS1 4AB", "country": "GB"}],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


async def admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def seed(base: str, count: int) -> dict[str, str]:
    """Create `count` patients; return id -> the JSON bytes the server serves for each."""
    bodies: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        semaphore = asyncio.Semaphore(16)

        async def one(n: int) -> None:
            async with semaphore:
                resource = {**PATIENT, "identifier": [{"system": PATIENT["identifier"][0]["system"], "value": f"MRN-{n}"}]}
                created = await client.post("/fhir/Patient", json=resource,
                                            headers={"content-type": "application/fhir+json"})
                created.raise_for_status()
                rid = created.json()["id"]
                bodies[rid] = (await client.get(f"/fhir/Patient/{rid}")).text

        await asyncio.gather(*(one(n) for n in range(count)))
    return bodies


def run_wrk(script: str, url: str, env: dict[str, str], *, duration: int, connections: int) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(LUA / script), url]
    out = subprocess.run(command, env={**os.environ, **env, "BENCH_LUA_DIR": str(LUA)}, capture_output=True,
                         text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_RESULT "))
    result = json.loads(line.split(" ", 1)[1])
    seconds = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("errors_status", "errors_connect", "errors_timeout", "errors_read"))
    return {
        "requests": result["requests"],
        "throughput": round(result["requests"] / seconds, 1),
        "p50_ms": result["p50_us"] / 1000,
        "p95_ms": result["p95_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "errors": errors,
    }


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(command, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("FHIR_TEST_POSTGRES_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    name = f"fhir_bench_{secrets.token_hex(4)}"
    base_url = args.admin_url.rpartition("/")[0]
    db_url = f"{base_url}/{name}"
    asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{name}"'))
    work = Path(tempfile.mkdtemp(prefix="fhir-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        env = {"FHIR_DATABASE_URL": db_url, "FHIR_DATA_DIR": str(work / "data"), "FHIR_LOG_LEVEL": "warning"}
        subprocess.run([str(BIN / "fhir-server"), "migrate"], env={**os.environ, **env}, check=True,
                       capture_output=True)
        port, floor_port = free_port(), free_port()
        processes.append(start([str(BIN / "fhir-server"), "serve", "--dev", "--port", str(port), "--workers",
                                str(args.workers)], env, work / "server.log"))
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/fhir/metadata")
        bodies = asyncio.run(seed(f"{base}", args.seed))
        (work / "ids.txt").write_text("\n".join(bodies) + "\n")
        (work / "bodies.json").write_text(json.dumps(bodies))
        (work / "create.json").write_text(json.dumps(PATIENT))
        (work / "update.json").write_text(json.dumps({**PATIENT, "id": "__ID__", "active": False}))
        processes.append(start([str(BIN / "uvicorn"), "bench.floor_app:app", "--port", str(floor_port), "--workers",
                                str(args.workers), "--log-level", "warning", "--no-access-log"],
                               {"BENCH_DATABASE_URL": db_url, "BENCH_BODIES": str(work / "bodies.json"),
                                "PYTHONPATH": str(ROOT)}, work / "floor.log"))
        wait_http(f"http://127.0.0.1:{floor_port}/Patient/none")

        ids = {"BENCH_IDS": str(work / "ids.txt")}
        wrk = {"duration": args.duration, "connections": args.connections}
        results = {
            "floor_read": run_wrk("read.lua", f"http://127.0.0.1:{floor_port}", {**ids, "BENCH_PREFIX": "/Patient/"}, **wrk),
            "read": run_wrk("read.lua", base, {**ids, "BENCH_PREFIX": "/fhir/Patient/"}, **wrk),
            "create": run_wrk("create.lua", base, {**ids, "BENCH_BODY": str(work / "create.json")}, **wrk),
            "update": run_wrk("update.lua", base, {**ids, "BENCH_BODY": str(work / "update.json")}, **wrk),
        }
        ratio = results["read"]["throughput"] / results["floor_read"]["throughput"]
        print(f"\nREST load on PostgreSQL: concurrency {args.connections}, {args.workers} uvicorn worker(s) each, "
              f"{args.duration}s per run, {args.seed} seeded patients; {platform.node()} "
              f"({os.cpu_count()} cores, Python {platform.python_version()})")
        print(f"{'run':<12}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'errors':>8}")
        for label, figures in results.items():
            print(f"{label:<12}{figures['throughput']:>10.1f}{figures['p50_ms']:>10.2f}{figures['p95_ms']:>10.2f}"
                  f"{figures['p99_ms']:>10.2f}{figures['errors']:>8}")
        print(f"read / floor throughput ratio: {ratio:.2f}  (target >= 0.60)")
        print(f"create: {results['create']['throughput']:.0f}/s (target >= 500); "
              f"read p99: {results['read']['p99_ms']:.1f} ms (target <= 50)")
        print("BENCH_SUMMARY " + json.dumps({"results": results, "read_floor_ratio": round(ratio, 3),
                                             "connections": args.connections, "workers": args.workers}))
        return 0
    finally:
        for process in processes:
            stop(process)
        asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
