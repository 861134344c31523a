"""The cost of access control and audit on a read: the same reads with and without a SMART token.

    python bench/auth_cost.py [--admin-url postgresql://postgres@127.0.0.1:5432/test] [--duration 15]
                              [--connections 32] [--workers 2] [--seed 2000] [--rounds 3]

One server on PostgreSQL in dev mode, so a request without a token is served as the dev principal
(no policy, no audit: the floor), and a request with a token goes the whole way: the RS256 token is
verified, the policy decides, and the read's AuditEvent is committed before the response. The token
is a Backend Services one (`system/*.rs`, private_key_jwt), as an analyst's system would hold. Prints
both runs, the throughput loss (target <= 15%) and one JSON line (BENCH_SUMMARY).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
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
            runs["read_dev_mode"].append(run_wrk("read.lua", base, reads, **wrk))
            runs["read_with_token"].append(run_wrk("read.lua", base, {**reads, "BENCH_TOKEN": bearer}, **wrk))
        results = {label: median_run(figures) for label, figures in runs.items()}
        loss = 1 - results["read_with_token"]["throughput"] / results["read_dev_mode"]["throughput"]
        print(f"\nAuth + audit cost on reads, PostgreSQL: concurrency {args.connections}, {args.workers} uvicorn "
              f"worker(s), {args.rounds} alternating rounds of {args.duration}s per mode (medians), {args.seed} "
              f"patients; {platform.node()} "
              f"({os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f})")
        print(f"{'run':<18}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'errors':>8}")
        for label, figures in results.items():
            print(f"{label:<18}{figures['throughput']:>10.1f}{figures['p50_ms']:>10.2f}{figures['p95_ms']:>10.2f}"
                  f"{figures['p99_ms']:>10.2f}{figures['errors']:>8}")
        print(f"throughput loss with a token (verify + policy + audit): {loss:.1%}  (target <= 15%)")
        for label, figures in runs.items():
            print(f"{label} rounds, req/s: " + ", ".join(f"{f['throughput']:.0f}" for f in figures))
        print("BENCH_SUMMARY " + json.dumps({"results": results, "rounds": runs, "loss": round(loss, 4)}))
        return 0
    finally:
        if process is not None:
            stop(process)
        asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
