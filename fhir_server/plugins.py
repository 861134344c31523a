"""Capabilities above the core, plugged into every runtime: the API, the worker and the CLI alike.

A plugin is a callable `(runtime) -> None` (or a coroutine function) registered under the
`fhir_server.plugins` entry point group. It gets the built runtime and adds to it what it brings:
change subscribers (`runtime.services.resources.subscribe`), job handlers (`runtime.job_handlers`)
and $operations (`runtime.services.operations.register`). The core never imports a plugin (the AI
pipeline is one), as with the `fhir_server.commands` and `fhir_server.components` groups.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fhir_server.bootstrap import Runtime

__all__ = ["GROUP", "load_plugins"]

GROUP = "fhir_server.plugins"
log = logging.getLogger("fhir_server.plugins")


async def load_plugins(runtime: Runtime, *, capability_statement: Callable[[], bytes]) -> list[str]:
    """Run every registered plugin on `runtime`; returns their names. A plugin that fails stops the
    start: the runtime is closed and the error raised, rather than serving without what it adds.

    `capability_statement` rebuilds the statement, which was made before the plugins added operations.
    """
    operations = runtime.services.operations
    before = len(operations.all())
    names: list[str] = []
    for entry_point in entry_points(group=GROUP):
        try:
            outcome = entry_point.load()(runtime)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            log.exception("plugin %s could not be loaded", entry_point.name)
            await runtime.close()
            raise
        names.append(entry_point.name)
    if len(operations.all()) != before:
        runtime.services = replace(runtime.services, capability_statement=capability_statement())
    return names
