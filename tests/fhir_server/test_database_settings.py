"""Session settings the server gives its PostgreSQL connections."""

from __future__ import annotations

import pytest

from fhir_server.bootstrap import start_runtime
from fhir_server.config import Settings


@pytest.mark.parametrize("workers", [0, 3])
async def test_statements_use_the_configured_parallel_workers(settings: Settings, workers: int) -> None:
    if settings.is_sqlite:
        pytest.skip("a PostgreSQL setting")
    runtime = await start_runtime(settings.model_copy(update={"database_parallel_workers": workers}))
    try:
        async with runtime.store.single() as db:
            assert await db.fetchval("SHOW max_parallel_workers_per_gather") == str(workers)
    finally:
        await runtime.close()
