"""Which validation layers run where: writes run the R4 validator, plus the `fhir.resources` R4B models
only when `FHIR_VALIDATION_R4B_MODELS` is on; `$validate` always runs both.

The R4B layer refuses nothing the R4 validator accepts (tests/resources/test_r4b_layer.py), so no real
resource tells the layers apart: here the models are made to object to every Patient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from fhir_server.app import create_app
from fhir_server.config import Settings
from resources import r4b_models
from resources.issues import ValidationIssue

FHIR_JSON = {"content-type": "application/fhir+json"}
PATIENT = {"resourceType": "Patient", "name": [{"family": "Okafor"}]}


@pytest.fixture(autouse=True)
def objecting_models(monkeypatch: pytest.MonkeyPatch) -> None:
    def model_issues(resource: dict[str, Any]) -> list[ValidationIssue]:
        return [ValidationIssue("error", "invalid", "R4B model: objects", f"{resource['resourceType']}.name")]

    monkeypatch.setattr(r4b_models, "model_issues", model_issues)


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                   base_url="http://testserver") as http:
        yield http


async def _create_and_validate(settings: Settings) -> tuple[httpx.Response, httpx.Response]:
    async with _client(settings) as http:
        created = await http.post("/fhir/Patient", json=PATIENT, headers=FHIR_JSON)
        validated = await http.post("/fhir/Patient/$validate", json=PATIENT, headers=FHIR_JSON)
    return created, validated


def _diagnostics(response: httpx.Response) -> list[str]:
    return [issue.get("diagnostics", "") for issue in response.json().get("issue", [])]


async def test_writes_leave_the_r4b_models_to_validate_by_default(settings: Settings) -> None:
    created, validated = await _create_and_validate(settings)
    assert created.status_code == 201
    assert "R4B model: objects" in _diagnostics(validated)


async def test_writes_run_the_r4b_models_when_configured(settings: Settings) -> None:
    created, validated = await _create_and_validate(settings.model_copy(update={"validation_r4b_models": True}))
    assert created.status_code == 400
    assert "R4B model: objects" in _diagnostics(created)
    assert "R4B model: objects" in _diagnostics(validated)
