"""The shipped terminology content in the database: `migrate` loads it once and afterwards writes only
what a release changed (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select

from fhir_server.config import Settings
from fhir_server.db import migrate, terminology_content
from fhir_server.db.engine import create_engine
from fhir_server.db.tables import terminology_content as content_table
from fhir_server.db.tables import terminology_release
from terminology import content

LOINC = "http://loinc.org"


def held(url: str) -> list[dict[str, Any]]:
    """The resources the table holds, in their order."""

    async def read() -> list[dict[str, Any]]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                bodies = (await conn.execute(select(content_table.c.body).order_by(content_table.c.position))).all()
                return [terminology_content.decode(body) for (body,) in bodies]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def empty(url: str) -> None:
    """As a database migrated by Alembic alone (or by a release without the content step) is."""

    async def run() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(delete(content_table))
                await conn.execute(delete(terminology_release))
        finally:
            await engine.dispose()

    asyncio.run(run())


def distinct(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One per (type, url, version), the last one at the place of the first (as the terminology store
    keeps them): the specification's content-less SNOMED CT CodeSystem gives way to the fragment."""
    kept: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for resource in resources:
        kept[(resource["resourceType"], resource["url"], resource.get("version"))] = resource
    return list(kept.values())


@pytest.fixture
def url(settings: Settings) -> Iterator[str]:
    """The test's database, with the shipped content again afterwards (PostgreSQL's is shared by the run)."""
    yield settings.sqlalchemy_url
    if not settings.is_sqlite:
        terminology_content.sync(settings.sqlalchemy_url)


def test_migrate_loads_the_shipped_content_once(url: str):
    shipped = distinct(content.bundled())
    assert str(terminology_content.sync(url)) == "up to date"  # the fixture's database was migrated
    empty(url)
    loaded = migrate.upgrade(url)
    assert loaded == terminology_content.Sync(len(shipped), added=len(shipped))
    assert str(loaded) == f"{len(shipped):,} resources loaded"
    again = migrate.upgrade(url)
    assert again is not None and again.written == 0 and str(again) == "up to date"
    assert held(url) == shipped
    assert terminology_content.loaded(url) == content.release()


def test_a_new_release_writes_only_what_changed(url: str):
    shipped = content.bundled()
    changed = copy.deepcopy(shipped)
    loinc = next(r for r in changed if r["resourceType"] == "CodeSystem" and r["url"] == LOINC)
    loinc["concept"] = [c for c in loinc["concept"] if c["code"] != "2823-3"]
    gone = next(i for i, r in enumerate(changed) if r["resourceType"] == "ConceptMap")
    del changed[gone]
    new = {"resourceType": "CodeSystem", "url": "http://example.org/fhir/CodeSystem/wards", "version": "2",
           "status": "active", "content": "complete", "concept": [{"code": "icu"}]}
    changed.append(new)
    expected = distinct(changed)
    moved = sum(1 for r in expected[gone:] if r is not new and r is not loinc)  # one place up, unchanged

    report = terminology_content.sync(url, changed)
    assert report == terminology_content.Sync(len(expected), added=1, updated=1, moved=moved, removed=1)
    assert held(url) == expected
    assert terminology_content.sync(url, changed).written == 0
    assert terminology_content.loaded(url) not in (None, content.release())

    restored = terminology_content.sync(url)  # the shipped files again
    assert (restored.added, restored.updated, restored.removed) == (1, 1, 1)
    assert held(url) == distinct(shipped)
    assert terminology_content.loaded(url) == content.release()


def test_a_row_lost_is_written_again(url: str):
    async def lose_one() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                first = await conn.scalar(select(content_table.c.pk).order_by(content_table.c.position).limit(1))
                await conn.execute(delete(content_table).where(content_table.c.pk == first))
        finally:
            await engine.dispose()

    asyncio.run(lose_one())
    assert terminology_content.loaded(url) is None  # the release recorded no longer matches the rows
    report = terminology_content.sync(url)
    assert (report.added, report.updated, report.removed) == (1, 0, 0)
    assert terminology_content.loaded(url) == content.release()
