from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fhir_server.bulk.harness import Harness, harness


@pytest.fixture
async def h(settings) -> AsyncIterator[Harness]:
    async with harness(settings) as running:
        yield running
