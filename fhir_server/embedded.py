"""The embedded deployment (`fhir-server all`): the job worker and the components above the core
(the HL7 listener, ...) run as background tasks of the API process.

Components register an async `(runtime) -> None` under the `fhir_server.components` entry point
group, so the core never imports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import entry_points

from fhir_server.bootstrap import Runtime

__all__ = ["embedded_components"]

log = logging.getLogger("fhir_server.embedded")


async def _guarded(name: str, coroutine: object) -> None:
    try:
        await coroutine  # type: ignore[misc]
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("embedded component %s stopped with an error", name)


@contextlib.asynccontextmanager
async def embedded_components(runtime: Runtime) -> AsyncIterator[list[str]]:
    """Start the worker and every registered component; stop them when the block ends."""
    tasks: dict[str, asyncio.Task[None]] = {}
    worker = runtime.worker()
    tasks["worker"] = asyncio.create_task(_guarded("worker", worker.run()))
    for entry_point in entry_points(group="fhir_server.components"):
        component = entry_point.load()
        tasks[entry_point.name] = asyncio.create_task(_guarded(entry_point.name, component(runtime)))
    try:
        yield list(tasks)
    finally:
        worker.stop()
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
