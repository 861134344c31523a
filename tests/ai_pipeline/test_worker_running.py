"""With the worker running, a committed lab result has its RiskAssessment within the issue's 2 s: the
worker is woken at the commit (its poll is set far beyond that here)."""

from __future__ import annotations

import asyncio
import time

import orjson

from ai_pipeline.write_back import derived_id
from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.jobs import Worker
from resources import fhir_json
from tests.ai_pipeline.records import patient, potassium

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")


async def written_within(runtime, target: str, since: float, seconds: float) -> bool:
    """Whether RiskAssessment/`target` is readable before `seconds` have passed since `since`."""
    for _ in range(10_000):
        if await runtime.store.read_current("RiskAssessment", target) is not None:
            return time.perf_counter() - since < seconds
        if time.perf_counter() - since > seconds:
            return False
        await asyncio.sleep(0.01)
    return False


async def test_a_lab_result_is_assessed_within_two_seconds_of_its_commit(runtime):
    worker = Worker(runtime.jobs, runtime.job_handlers, poll_seconds=60)
    running = asyncio.create_task(worker.run())
    try:
        if runtime.jobs.wakeups.in_database:
            await asyncio.wait_for(runtime.jobs.wakeups.connected.wait(), 10)
        await asyncio.sleep(0.3)  # the worker has polled once and waits
        for n in range(3):
            pid = f"p{n}"
            await runtime.services.resources.update(CTX, "Patient", pid, patient(pid))
            result = fhir_json.loads(orjson.dumps(potassium("6.9", pid=pid)))  # decimals as the parser gives them
            await runtime.services.resources.create(CTX, "Observation", result)
            committed = time.perf_counter()
            target = derived_id("RiskAssessment", f"Patient/{pid}", "ukka-hyperkalaemia-2020")
            assert await written_within(runtime, target, committed, 2.0)
    finally:
        worker.stop()
        await running
