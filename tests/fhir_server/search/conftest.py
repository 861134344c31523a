from __future__ import annotations

import pytest

from fhir_server.search import SearchRegistry


@pytest.fixture(scope="session")
def registry() -> SearchRegistry:
    return SearchRegistry.from_definitions()
