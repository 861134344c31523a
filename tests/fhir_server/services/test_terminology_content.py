"""A process starts on the terminology content `fhir-server migrate` loaded into the database, never on
the package files, and refuses to start on a database without it (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from fhir_server.bootstrap import StartupError, start_runtime
from fhir_server.config import Settings
from fhir_server.db import migrate, terminology_content
from fhir_server.db.engine import create_engine
from fhir_server.db.tables import terminology_content as content_table
from terminology import TerminologyStore, content

LOINC = "http://loinc.org"
GENDER = "http://hl7.org/fhir/ValueSet/administrative-gender"


def parameter(body: dict, name: str) -> dict:
    return next(p for p in body["parameter"] if p["name"] == name)


@pytest.fixture
def without_files(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """No parsing of `terminology/data` from here on (once the test's database is migrated)."""

    def refuse() -> list:
        raise AssertionError("the shipped terminology was read from the package files")

    monkeypatch.setattr(content, "bundled", refuse)


@pytest.fixture
def restored(settings: Settings) -> Iterator[Settings]:
    """The test's settings; PostgreSQL's database (shared by the run) gets the shipped content back."""
    yield settings
    if not settings.is_sqlite:
        terminology_content.sync(settings.sqlalchemy_url)


async def test_operations_answer_from_the_content_in_the_database(without_files, client):
    looked_up = await client.get("/fhir/CodeSystem/$lookup", params={"system": LOINC, "code": "2823-3"})
    assert looked_up.status_code == 200, looked_up.text
    assert parameter(looked_up.json(), "display")["valueString"] == "Potassium [Moles/volume] in Serum or Plasma"
    expanded = await client.get("/fhir/ValueSet/$expand", params={"url": GENDER})
    assert expanded.status_code == 200, expanded.text
    assert {c["code"] for c in expanded.json()["expansion"]["contains"]} == {"male", "female", "other", "unknown"}


async def test_the_store_read_from_the_database_is_the_one_the_files_give(runtime):
    from_database = runtime.terminology.terminology
    from_files = TerminologyStore()
    assert list(from_database.code_systems()) == list(from_files.code_systems())
    assert [(cs.version, cs.resource) for versions in from_database.code_systems().values() for cs in versions] == [
        (cs.version, cs.resource) for versions in from_files.code_systems().values() for cs in versions]
    assert from_database.concept_maps() == from_files.concept_maps()
    assert from_database.value_set_resource(GENDER) == from_files.value_set_resource(GENDER)


async def _empty(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(content_table))
    finally:
        await engine.dispose()


async def test_start_refuses_a_database_without_the_content(restored, monkeypatch):
    # as Alembic alone (or a release without the content step) leaves it: on SQLite, which migrates
    # itself at start, the content would be loaded again
    monkeypatch.setattr(migrate, "upgrade", lambda url, revision="head": None)
    await _empty(restored.sqlalchemy_url)
    with pytest.raises(StartupError, match=r"no terminology content .* run `fhir-server migrate`"):
        await start_runtime(restored)


async def test_start_refuses_the_content_of_another_release(restored, monkeypatch):
    monkeypatch.setattr(migrate, "upgrade", lambda url, revision="head": None)
    older = copy.deepcopy(content.bundled())[:-1]
    await asyncio.to_thread(terminology_content.sync, restored.sqlalchemy_url, older)
    with pytest.raises(StartupError, match=r"another release .* run `fhir-server migrate`"):
        await start_runtime(restored)


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL is migrated explicitly, never at start
async def test_sqlite_loads_the_content_again_at_start(settings):
    await _empty(settings.sqlalchemy_url)
    runtime = await start_runtime(settings)
    try:
        assert runtime.terminology.terminology.code_system(LOINC).get("2823-3") is not None
    finally:
        await runtime.close()
