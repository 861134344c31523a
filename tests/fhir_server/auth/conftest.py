"""Fixtures of the authorization server's tests: a unit of work on each backend, the started auth
components, and a Starlette app of the SMART routes plus a small protected FHIR endpoint."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette

import fhir_server.db.auth_tables  # noqa: F401 - the truncation between tests must see these tables
from fhir_server.auth import AuthComponents, AuthSettings, Choice
from fhir_server.config import Settings
from tests.fhir_server.auth.harness import build_app, open_store


def pytest_configure(config: pytest.Config) -> None:
    # authlib's httpx client (the SMART client library of these tests) announces a future module rename
    config.addinivalue_line("filterwarnings", "ignore:The httpx module is deprecated")


REDIS_URL = os.environ.get("FHIR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BASE = "http://localhost"
FHIR_BASE = f"{BASE}/fhir"


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Any]:
    async with open_store(settings) as store:
        yield store


@pytest.fixture
def auth_settings() -> AuthSettings:
    return AuthSettings(base_url=FHIR_BASE, max_failed_logins=3, lockout_seconds=60, password_time_cost=1,
                        password_memory_kib=64)


@pytest.fixture
def audit_log() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def linked() -> dict[str, frozenset[str]]:
    """Supervisor reference -> the patient ids linked to them (tests change it)."""
    return {"Practitioner/sup1": frozenset({"p1", "p2"})}


@pytest.fixture
def patients() -> list[Choice]:
    return [Choice("p1", "Adaeze Okafor"), Choice("p2", "Bram de Vries"), Choice("p3", "Chen Wei")]


@pytest.fixture
async def auth(store: Any, auth_settings: AuthSettings, audit_log: list[dict[str, Any]],
               linked: dict[str, frozenset[str]], patients: list[Choice]) -> AsyncIterator[AuthComponents]:
    from fhir_server.search import SearchRegistry, extract

    registry = SearchRegistry.from_definitions()

    async def sink(event: dict[str, Any]) -> None:
        audit_log.append(event)

    async def supervised(practitioner: str) -> frozenset[str]:
        return linked.get(practitioner, frozenset())

    async def pick_patient(account: Any, query: str) -> list[Choice]:
        return [c for c in patients if query.lower() in c.display.lower()]

    async def pick_encounter(account: Any, patient: str) -> list[Choice]:
        return [Choice(f"{patient}-enc1", "Admission 2026-11-01"), Choice(f"{patient}-enc2", "Clinic visit")]

    components = await AuthComponents.start(
        settings=auth_settings, uow=store, sealer=store.keyring, index_rows=lambda r: extract(registry, r),
        supervised_patients=supervised, patient_picker=pick_patient, encounter_picker=pick_encounter,
        audit_sink=sink)
    try:
        yield components
    finally:
        await components.close()


@pytest.fixture
def app(auth: AuthComponents) -> Starlette:
    return build_app(auth)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run a click command group of `fhir-server` against this test's database."""
    monkeypatch.setenv("FHIR_DATA_DIR", str(settings.data_dir))
    if settings.is_sqlite:
        monkeypatch.delenv("FHIR_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("FHIR_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("FHIR_REDIS_URL", raising=False)
    runner = CliRunner()

    def run(group, *args, input=None, ok=True):
        result = runner.invoke(group, list(args), input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run
