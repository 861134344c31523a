"""What a long-lived process of the server (the API, the HL7 listener, the job worker, an import)
does differently from a short command or a test: the event loop it runs on, and its heap once started."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run_service", "freeze_startup_heap"]

T = TypeVar("T")
_frozen = False
YOUNG_THRESHOLD = 20_000


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # a platform without it: asyncio's own loop
        return None
    return uvloop.new_event_loop


def run_service(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on uvloop's event loop where it is installed (the loop uvicorn runs the
    API on), else asyncio's. Each database round trip and each MLLP frame goes through the loop's
    transports: uvloop's cost the gateway a tenth less CPU per message than asyncio's."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


def freeze_startup_heap() -> None:
    """Keep what a process loaded at start (definitions, validators, search plans) out of the garbage
    collector's full passes, which otherwise stall its requests and messages for a tenth of a second
    each. Once per process: a runtime started after another (as the test suite does) must leave its
    objects to the collector when it stops, and unfreezing would put the definitions back into
    every full pass.

    And collect the young generation every `YOUNG_THRESHOLD` allocations instead of 700: a request or an
    HL7 message allocates a few thousand short-lived objects that reference counting frees, and at 700
    the collector ran once per HL7 message (2% of the gateway's CPU) for next to nothing to collect."""
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        _frozen = True
