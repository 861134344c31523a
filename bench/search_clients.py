"""The clients of the search benchmark: worker processes, each with a runtime of its own, as
`fhir-server serve --workers N` runs one per process, sharing the searches in flight between them.

Each process runs its share of the requests with `concurrency / processes` searches in flight on
its event loop and reports the latency of each; throughput is all requests over the wall time.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from fhir_server.bootstrap import Runtime, start_runtime
from fhir_server.config import Settings
from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.services import SearchRequest

__all__ = ["Clients", "run_requests"]

_state: dict[str, Any] = {}


async def run_requests(runtime: Runtime, requests: list[SearchRequest], concurrency: int
                       ) -> tuple[list[float], list[int]]:
    """(latency in ms, number of matches) of each request, `concurrency` in flight at a time."""
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://bench/fhir")
    latencies: list[float] = []
    sizes: list[int] = []
    pending = list(reversed(requests))

    async def worker() -> None:
        while pending:
            request = pending.pop()
            started = time.perf_counter()
            body = await runtime.services.search.search(ctx, request)
            latencies.append((time.perf_counter() - started) * 1000)
            sizes.append(body.count(b'"mode":"match"'))

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return latencies, sizes


def _start(settings: dict[str, Any]) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _state["loop"] = loop
    _state["runtime"] = loop.run_until_complete(start_runtime(Settings(**settings)))


def _batch(args: tuple[list[SearchRequest], int]) -> tuple[list[float], list[int]]:
    requests, concurrency = args
    return _state["loop"].run_until_complete(run_requests(_state["runtime"], requests, concurrency))


class Clients:
    def __init__(self, settings: dict[str, Any], processes: int) -> None:
        self.processes = processes
        self.pool = ProcessPoolExecutor(processes, initializer=_start, initargs=(settings,))

    def run(self, requests: list[SearchRequest], concurrency: int) -> tuple[list[float], float, list[int]]:
        """(latencies, wall seconds, matches) of the requests spread over the processes."""
        shares = [requests[n::self.processes] for n in range(self.processes)]
        per_process = max(1, concurrency // self.processes)
        started = time.perf_counter()
        results = list(self.pool.map(_batch, [(share, per_process) for share in shares], chunksize=1))
        elapsed = time.perf_counter() - started
        return [x for lat, _ in results for x in lat], elapsed, [x for _, sizes in results for x in sizes]

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)
