"""The cost of access control and audit on a read: the same reads with and without a SMART token.

    python bench/auth_cost.py [--admin-url postgresql://postgres@127.0.0.1:5432/test] [--duration 15]
                              [--connections 32] [--workers 2] [--seed 2000] [--rounds 3]

One server on PostgreSQL in dev mode, so a request without a token is served as the dev principal
(no policy, no audit: the floor), and a request with a token goes the whole way: the RS256 token is
verified, the policy decides, and the read's AuditEvent is committed before the response. The token
is a Backend Services one (`system/*.rs`, private_key_jwt), as an analyst's system would hold. Prints
both runs, the throughput loss (target <= 15%), the server's CPU time per read in each mode (the API
processes and their PostgreSQL backends: a figure that other load on the machine does not move, and
the loss it implies for a CPU-bound server), and one JSON line (BENCH_SUMMARY).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rest_load import BIN, admin, free_port, run_wrk, seed, start, stop, wait_http  # noqa: E402

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def backend_key() -> tuple[RSAKey, dict[str, object]]:
    private = RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    private = RSAKey.import_key(private.as_dict(private=True) | {"kid": "bench"})
    return private, {"keys": [private.as_dict(private=False) | {"kid": "bench", "alg": "RS384"}]}


def token(base: str, key: RSAKey, client_id: str) -> str:
    now = int(time.time())
    token_url = f"{base}/auth/token"
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + 240, "iat": now,
              "jti": secrets.token_urlsafe(12)}
    signed = jwt.encode({"alg": "RS384", "typ": "JWT", "kid": key.kid}, claims, key, algorithms=["RS384"])
    response = httpx.post(token_url, data={"grant_type": "client_credentials", "scope": "system/*.rs",
                                           "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed})
    response.raise_for_status()
    return str(response.json()["access_token"])


def server_cpu_seconds(process_group: int, database: str) -> tuple[float, float]:
    """CPU time used so far by the server's processes and by the PostgreSQL backends serving its
    database (found by their process title), user + system. Backends that have ended count too (a pool
    replaces its connections after so many queries): their time is in their parent's (the postmaster's)
    count of its ended children, which includes those of the cluster's other databases, quiet while
    a benchmark runs."""
    tick = os.sysconf("SC_CLK_TCK")
    api = db = 0
    postmasters: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            used = int(fields[11]) + int(fields[12])
            if int(fields[2]) == process_group:  # fields[2] is the process group (5th field of stat)
                api += used
            elif b"postgres" in (cmdline := (entry / "cmdline").read_bytes()) and f" {database} ".encode() in cmdline:
                db += used
                postmasters.add(int(fields[1]))
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    for pid in postmasters:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            db += int(fields[13]) + int(fields[14])  # cutime, cstime: its children that have ended
        except (OSError, ValueError, IndexError):
            continue
    return api / tick, db / tick


def timed_wrk(process_group: int, database: str, *args: Any, **options: Any) -> dict[str, Any]:
    """`run_wrk`, plus the server's CPU microseconds per request over the run."""
    api0, db0 = server_cpu_seconds(process_group, database)
    result = run_wrk(*args, **options)
    api1, db1 = server_cpu_seconds(process_group, database)
    per_request = 1e6 / max(result["requests"], 1)
    return {**result, "server_cpu_us_per_request": round((api1 - api0 + db1 - db0) * per_request, 1),
            "api_cpu_us_per_request": round((api1 - api0) * per_request, 1),
            "db_cpu_us_per_request": round((db1 - db0) * per_request, 1)}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput."""
    return sorted(runs, key=lambda run: run["throughput"])[len(runs) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("FHIR_TEST_POSTGRES_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="dev and token runs alternate this many times; the medians are compared, so a "
                             "change in the machine's other load hits both modes alike")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    name = f"fhir_bench_{secrets.token_hex(4)}"
    db_url = f"{args.admin_url.rpartition('/')[0]}/{name}"
    asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{name}"'))
    work = Path(tempfile.mkdtemp(prefix="fhir-bench-"))
    process = None
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {"FHIR_DATABASE_URL": db_url, "FHIR_DATA_DIR": str(work / "data"), "FHIR_LOG_LEVEL": "warning",
               "FHIR_BASE_URL": f"{base}/fhir"}
        run_env = {**os.environ, **env}
        subprocess.run([str(BIN / "fhir-server"), "migrate"], env=run_env, check=True, capture_output=True)
        key, jwks = backend_key()
        (work / "jwks.json").write_text(json.dumps(jwks))
        subprocess.run([str(BIN / "fhir-server"), "clients", "add", "--client-id", "bench", "--scopes", "system/*.rs",
                        "--jwks", str(work / "jwks.json")], env=run_env, check=True, capture_output=True)
        process = start([str(BIN / "fhir-server"), "serve", "--dev", "--port", str(port), "--workers",
                         str(args.workers)], env, work / "server.log")
        wait_http(f"{base}/fhir/metadata")
        bodies = asyncio.run(seed(base, args.seed))
        (work / "ids.txt").write_text("\n".join(bodies) + "\n")
        bearer = token(base, key, "bench")
        check = httpx.get(f"{base}/fhir/Patient/{next(iter(bodies))}", headers={"authorization": f"Bearer {bearer}"})
        check.raise_for_status()
        reads = {"BENCH_IDS": str(work / "ids.txt"), "BENCH_PREFIX": "/fhir/Patient/"}
        wrk = {"duration": args.duration, "connections": args.connections}
        runs: dict[str, list[dict[str, Any]]] = {"read_dev_mode": [], "read_with_token": []}
        for _ in range(args.rounds):
            runs["read_dev_mode"].append(timed_wrk(process.pid, name, "read.lua", base, reads, **wrk))
            runs["read_with_token"].append(timed_wrk(process.pid, name, "read.lua", base,
                                                     {**reads, "BENCH_TOKEN": bearer}, **wrk))
        results = {label: median_run(figures) for label, figures in runs.items()}
        loss = 1 - results["read_with_token"]["throughput"] / results["read_dev_mode"]["throughput"]
        cpu = {label: statistics.median(run["server_cpu_us_per_request"] for run in figures)
               for label, figures in runs.items()}
        split = {label: (statistics.median(run["api_cpu_us_per_request"] for run in figures),
                         statistics.median(run["db_cpu_us_per_request"] for run in figures))
                 for label, figures in runs.items()}
        cpu_loss = 1 - cpu["read_dev_mode"] / cpu["read_with_token"]
        print(f"\nAuth + audit cost on reads, PostgreSQL: concurrency {args.connections}, {args.workers} uvicorn "
              f"worker(s), {args.rounds} alternating rounds of {args.duration}s per mode (medians), {args.seed} "
              f"patients; {platform.node()} "
              f"({os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f})")
        print(f"{'run':<18}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'errors':>8}")
        for label, figures in results.items():
            print(f"{label:<18}{figures['throughput']:>10.1f}{figures['p50_ms']:>10.2f}{figures['p95_ms']:>10.2f}"
                  f"{figures['p99_ms']:>10.2f}{figures['errors']:>8}")
        print(f"throughput loss with a token (verify + policy + audit): {loss:.1%}  (target <= 15%)")
        print(f"server CPU per read (API processes + their PostgreSQL backends, median): dev mode "
              f"{cpu['read_dev_mode']:.0f} us, with a token {cpu['read_with_token']:.0f} us: the throughput a "
              f"CPU-bound server loses, {cpu_loss:.1%} (unaffected by what else the machine runs)")
        print("  of which API processes / PostgreSQL: " + ", ".join(
            f"{label} {api:.0f} / {db:.0f} us" for label, (api, db) in split.items()))
        for label, figures in runs.items():
            print(f"{label} rounds, req/s: " + ", ".join(f"{f['throughput']:.0f}" for f in figures))
        print("BENCH_SUMMARY " + json.dumps({"results": results, "rounds": runs, "loss": round(loss, 4),
                                             "server_cpu_us_per_request": cpu, "cpu_loss": round(cpu_loss, 4)}))
        return 0
    finally:
        if process is not None:
            stop(process)
        asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
