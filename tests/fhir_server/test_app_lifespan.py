"""The app's lifespan: what it holds once it has stopped."""

from __future__ import annotations

import gc
import weakref

from fhir_server.app import create_app
from fhir_server.config import Settings


async def test_a_stopped_app_leaves_its_runtime_to_the_collector(settings: Settings) -> None:
    # the first app of a process freezes what it loaded out of the collector's passes; an app started
    # after it must not, or every app a process starts and stops (the test suite's) stays in memory
    first = create_app(settings)
    async with first.router.lifespan_context(first):
        pass
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        terminology = weakref.ref(app.state.runtime.terminology.terminology)
        assert terminology() is not None
    del app
    gc.collect()
    assert terminology() is None
