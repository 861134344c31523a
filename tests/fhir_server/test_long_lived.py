"""Long-lived processes: the event loop they run on and the heap they freeze once started."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import uvloop

from fhir_server.long_lived import YOUNG_THRESHOLD, run_service


def test_services_run_on_uvloop() -> None:
    async def loop_type() -> type:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert run_service(loop_type()) is uvloop.Loop
    # the caller's own loop policy is left as it was
    loop = asyncio.new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_the_startup_heap_is_frozen_once_per_process() -> None:
    # in a process of its own: freezing here would keep the suite's objects alive
    script = (
        "import gc\n"
        "from fhir_server.long_lived import freeze_startup_heap\n"
        "kept = [[n] for n in range(1000)]\n"
        "freeze_startup_heap()\n"
        "frozen = gc.get_freeze_count()\n"
        "later = [[n] for n in range(1000)]\n"
        "freeze_startup_heap()\n"
        "print(frozen, gc.get_freeze_count(), gc.get_threshold()[0])\n"
    )
    frozen, again, young = map(int, subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                            check=True).stdout.split())
    assert frozen >= 1000
    assert again == frozen  # the second call froze nothing more
    assert young == YOUNG_THRESHOLD  # the young generation is collected less often than every 700 allocations
