"""Search benchmark on PostgreSQL: latency (p50/p95) and throughput of typical searches at concurrency 8.

    python -m bench.search_load [--resources 100000] [--concurrency 8] [--requests 400]
                                [--admin-url postgresql://postgres@127.0.0.1:5432/test] [--keep] [--reuse DB]

Creates a database with a random name, migrates it, loads `--resources` realistic resources
(`bench/search_data.py`) through the server's own indexing and encryption (`bench/search_loader.py`,
COPY from two processes), then runs each search `--requests` times through the service layer
(`SearchService.search`, the code behind GET [base]/[type]?..., Bundle bytes included) with
`--concurrency` searches in flight, spread over `--processes` server processes (each with its own
runtime, as `serve --workers`; `bench/search_clients.py`), and prints p50, p95 and throughput per search, then EXPLAIN
ANALYZE of the slowest. The database is dropped at the end unless `--keep` (then `--reuse NAME`
runs the searches again without loading). Prints one JSON line (BENCH_SUMMARY) with every figure.

Targets: p95 <= 50 ms for id / identifier / patient-scoped searches, <= 200 ms for the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg

from bench.search_clients import Clients
from bench.search_data import CONDITIONS, FAMILIES, LABS, MRN_SYSTEM, Plan, plan_for
from bench.search_loader import load
from fhir_server.bootstrap import Runtime, start_runtime
from fhir_server.config import Settings
from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.db import migrate
from fhir_server.search import ParsedQuery, parse_query
from fhir_server.search.sql.paging import compile_page
from fhir_server.services import SearchRequest
from fhir_server.storage.crypto import generate_key

FAST, REST = 50.0, 200.0
Params = list[tuple[str, str]]


@dataclass(frozen=True)
class Search:
    name: str
    res_type: str
    target_ms: float
    make: Callable[[random.Random, Plan], Params]


def _patient(rng: random.Random, plan: Plan) -> str:
    return f"pat-{rng.randrange(plan.patients)}"


def _lab(rng: random.Random) -> str:
    return rng.choice([lab.code for lab in LABS if lab.unit != "mg/dL"])


SEARCHES = [
    Search("Patient?_id", "Patient", FAST, lambda r, p: [("_id", _patient(r, p))]),
    Search("Patient?identifier", "Patient", FAST,
           lambda r, p: [("identifier", f"{MRN_SYSTEM}|MRN-{r.randrange(p.patients):08d}")]),
    Search("Observation?patient&code&date=ge", "Observation", FAST,
           lambda r, p: [("patient", _patient(r, p)), ("code", f"http://loinc.org|{_lab(r)}"),
                         ("date", f"ge{r.randrange(2019, 2024)}-01-01")]),
    Search("Observation?patient&_sort=-date", "Observation", FAST,
           lambda r, p: [("patient", _patient(r, p)), ("_sort", "-date")]),
    Search("Patient/x/Condition (compartment)", "Condition", FAST, lambda r, p: [("patient", _patient(r, p))]),
    Search("Patient?name", "Patient", REST, lambda r, p: [("name", r.choice(FAMILIES)[:4])]),
    Search("Observation?code&value-quantity=gt", "Observation", REST,
           lambda r, p: [("code", "http://loinc.org|2345-7"),
                         ("value-quantity", f"gt{r.randrange(60, 140) / 10}|http://unitsofmeasure.org|mmol/L")]),
    Search("Observation?value-quantity=gt (umol/L)", "Observation", REST,
           lambda r, p: [("code", "2160-0"),
                         ("value-quantity", f"gt{r.randrange(300, 390) / 1000}|http://unitsofmeasure.org|mmol/L")]),
    Search("Observation?component-code-value-quantity", "Observation", REST,
           lambda r, p: [("component-code-value-quantity", f"http://loinc.org|8480-6$gt{r.randrange(150, 180)}")]),
    Search("Observation?patient.general-practitioner.name (2-level chain)", "Observation", REST,
           lambda r, p: [("patient.general-practitioner.name", r.choice(FAMILIES)), ("code", _lab(r))]),
    Search("Patient?_has:Condition:subject:code", "Patient", REST,
           lambda r, p: [("_has:Condition:subject:code", r.choice(CONDITIONS)[0]), ("gender", r.choice(("male", "female")))]),
    Search("Observation?code&_include=subject (50)", "Observation", REST,
           lambda r, p: [("code", _lab(r)), ("_count", "50"), ("_include", "Observation:subject")]),
    Search("Patient?name&_revinclude=Encounter:subject (50)", "Patient", REST,
           lambda r, p: [("name", r.choice(FAMILIES)[:3]), ("_count", "50"), ("_revinclude", "Encounter:subject")]),
    Search("Observation?code&_sort=-date", "Observation", REST,
           lambda r, p: [("code", _lab(r)), ("_sort", "-date")]),
    Search("Encounter?date=ge&_total=accurate", "Encounter", REST,
           lambda r, p: [("date", f"ge{r.randrange(2019, 2025)}-{r.randrange(1, 13):02d}"), ("_total", "accurate")]),
]
PAGE_20 = "Observation?code, page 20 (keyset cursor)"


@dataclass
class Figures:
    name: str
    target_ms: float
    p50: float
    p95: float
    per_second: float
    matches: float

    @property
    def ok(self) -> bool:
        return self.p95 <= self.target_ms


def _figures(name: str, target: float, latencies: list[float], elapsed: float, sizes: list[int]) -> Figures:
    ordered = sorted(latencies)
    return Figures(name, target, statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1],
                   len(ordered) / elapsed, statistics.mean(sizes))


async def _page_20_requests(runtime: Runtime, count: int) -> list[SearchRequest]:
    """Requests for the 20th page of `Observation?code=X` for several codes (walking there untimed)."""
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://bench/fhir")
    found = []
    for lab in LABS[:4]:
        params: Params = [("code", lab.code), ("_count", "20")]
        for _ in range(19):
            body = json.loads(await runtime.services.search.search(ctx, SearchRequest("Observation", params)))
            following = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
            if following is None:
                break
            params = parse_qsl(urlsplit(following).query)
        found.append(SearchRequest("Observation", params))
    return [found[n % len(found)] for n in range(count)]


async def _as_served(runtime: Runtime, conn: asyncpg.Connection, search: Search, params: Params) -> ParsedQuery:
    """The query as the search service compiles it: its chains and `_has` sized first."""
    query = parse_query(runtime.services.search.registry, search.res_type, params)
    return await runtime.services.search.sized(conn, query)  # type: ignore[arg-type]


async def _database_only(runtime: Runtime, dsn: str, plan: Plan, runs: int = 40) -> dict[str, dict[str, float]]:
    """The page statement of each search alone, one at a time on one connection: the database's
    share of the latency, without the queueing for two CPUs that the concurrent runs include."""
    conn = await asyncpg.connect(dsn)
    found: dict[str, dict[str, float]] = {}
    print(f"\n{'database alone (statement of the page, sequential)':62} {'p50 ms':>8} {'p95 ms':>8}")
    try:
        for search in SEARCHES:
            rng, times = random.Random(7), []
            for _ in range(runs):
                query = await _as_served(runtime, conn, search, search.make(rng, plan))
                sql, args = runtime.services.search.render(compile_page(query).with_resources())
                started = time.perf_counter()
                await conn.fetch(sql, *args)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            found[search.name] = {"db_p50_ms": round(times[runs // 2], 2), "db_p95_ms": round(times[int(runs * .95) - 1], 2)}
            print(f"{search.name:62} {times[runs // 2]:8.2f} {times[int(runs * .95) - 1]:8.2f}", flush=True)
    finally:
        await conn.close()
    return found


async def _explain(runtime: Runtime, dsn: str, search: Search, plan: Plan) -> str:
    params = search.make(random.Random(99), plan)
    conn = await asyncpg.connect(dsn)
    try:
        query = await _as_served(runtime, conn, search, params)
        sql, args = runtime.services.search.render(compile_page(query).with_resources())
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
    finally:
        await conn.close()
    return f"{search.name} {params}\n{sql}\n" + "\n".join(row[0] for row in rows)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    admin = args.admin_url
    name = args.reuse or f"search_bench_{secrets.token_hex(5)}"
    base = admin.rpartition("/")[0]
    dsn = f"{base}/{name}"
    key_file = Path(tempfile.gettempdir()) / f"{name}.key"
    plan = plan_for(args.resources)
    conn = await asyncpg.connect(admin)
    try:
        if not args.reuse:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    summary: dict[str, Any] = {"database": name, "resources": args.resources, "plan": asdict(plan)}
    try:
        await asyncio.to_thread(migrate.upgrade, Settings(database_url=dsn).sqlalchemy_url)
        if not args.reuse:
            key = generate_key()
            key_file.write_text(key)
            print(f"loading about {args.resources:,} resources ({plan.patients:,} patients) into {name}", flush=True)
            started = time.monotonic()
            summary["loaded"] = await load(dsn, key, plan, log=lambda text: print(text, flush=True))
            summary["load_seconds"] = round(time.monotonic() - started, 1)
            print(f"loaded {summary['loaded']:,} resources in {summary['load_seconds']} s", flush=True)
        key = key_file.read_text().strip()
        config = {"database_url": dsn, "encryption_key": key, "data_dir": Path(tempfile.mkdtemp()),
                  "database_pool_size": args.concurrency + 2, "dev_mode": True}
        runtime = await start_runtime(Settings(**config))
        clients = Clients(config, args.processes)
        try:
            figures = await _measure(runtime, clients, plan, args)
            slowest = max((f for f in figures if f.name != PAGE_20), key=lambda f: f.p95 / f.target_ms)
            search = next(s for s in SEARCHES if s.name == slowest.name)
            database = await _database_only(runtime, dsn, plan)
            print("\nEXPLAIN ANALYZE of the slowest (relative to its target):")
            print(await _explain(runtime, dsn, search, plan))
        finally:
            clients.close()
            await runtime.close()
        summary["processes"], summary["concurrency"] = args.processes, args.concurrency
        summary["searches"] = {f.name: {"p50_ms": round(f.p50, 1), "p95_ms": round(f.p95, 1),
                                        "per_second": round(f.per_second, 1), "target_ms": f.target_ms,
                                        "matches": round(f.matches, 1), "ok": f.ok,
                                        **database.get(f.name, {})} for f in figures}
        return summary
    finally:
        if not args.keep:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
            key_file.unlink(missing_ok=True)


async def _measure(runtime: Runtime, clients: Clients, plan: Plan, args: argparse.Namespace) -> list[Figures]:
    figures = []
    loop = asyncio.get_running_loop()
    print(f"\n{'search':62} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'matches':>8}  target")
    for search in SEARCHES:
        rng = random.Random(2024)
        requests = [SearchRequest(search.res_type, search.make(rng, plan)) for _ in range(args.requests)]
        if search.name.startswith("Patient/x/"):
            requests = [SearchRequest("Condition", [], compartment=("Patient", dict(r.params)["patient"]))
                        for r in requests]
        await loop.run_in_executor(None, clients.run, requests[: args.concurrency * 2], args.concurrency)  # warm up
        latencies, elapsed, sizes = await loop.run_in_executor(None, clients.run, requests, args.concurrency)
        figures.append(_figures(search.name, search.target_ms, latencies, elapsed, sizes))
        _print(figures[-1])
    requests = await _page_20_requests(runtime, args.requests)
    latencies, elapsed, sizes = await loop.run_in_executor(None, clients.run, requests, args.concurrency)
    figures.append(_figures(PAGE_20, REST, latencies, elapsed, sizes))
    _print(figures[-1])
    return figures


def _print(f: Figures) -> None:
    verdict = "ok" if f.ok else "SLOW"
    print(f"{f.name:62} {f.p50:8.1f} {f.p95:8.1f} {f.per_second:8.1f} {f.matches:8.1f}  <= {f.target_ms:.0f} {verdict}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8, help="searches in flight, over all processes")
    parser.add_argument("--processes", type=int, default=2, help="server processes (as serve --workers)")
    parser.add_argument("--requests", type=int, default=400, help="requests per search")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its name)")
    parser.add_argument("--reuse", default="", help="run the searches on a database kept by --keep")
    args = parser.parse_args()
    summary = asyncio.run(bench(args))
    print("BENCH_SUMMARY " + json.dumps(summary))
    sys.exit(0)


if __name__ == "__main__":
    main()
