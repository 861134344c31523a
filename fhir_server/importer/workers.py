"""Staging in worker processes.

The pool uses the `fork` start method: each worker inherits the parent's `Stager` — the runtime's
own validator and indexer, with the R4 definitions, the search plans and any custom
SearchParameter the database holds — so a record is staged in a worker exactly as it would be in
the server. Workers run pure staging code only; they never touch the parent's connections.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from fhir_server.importer.sources import Record
from fhir_server.importer.staging import StagedRecord, Stager
from fhir_server.long_lived import freeze_startup_heap

__all__ = ["stage_in_worker", "staging_pool"]

_stager: Stager | None = None


def stage_in_worker(kind: str, raw: list[tuple[int, int, bytes]], urls: dict[str, str] | None,
                    pks: list[int] | None = None) -> list[StagedRecord]:
    if _stager is None:
        raise RuntimeError("staging_pool() sets the stager up before the workers fork")
    return _stager.stage(kind, [Record(*item) for item in raw], urls, keep_dicts=False, pks=pks)


def staging_pool(workers: int, stager: Stager) -> ProcessPoolExecutor | None:
    """A pool of `workers` staging processes forked from this one (None for 0: stage in-process)."""
    global _stager
    if workers <= 0:
        return None
    _stager = stager
    # the definitions stay shared with the workers instead of being copied by the collector, and the
    # forked workers inherit its young-generation threshold (staging allocates many short-lived dicts)
    freeze_startup_heap()
    context: Any = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    # start every worker now, while this process is quiet
    for future in [pool.submit(_ready) for _ in range(workers)]:
        future.result()
    return pool


def _ready() -> bool:
    return _stager is not None
