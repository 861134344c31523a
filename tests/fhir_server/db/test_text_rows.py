"""Migration 0013: `_text` / `_content` words move from one `search_string` row per word to one
`search_text` row per resource and parameter, and back on a downgrade; PostgreSQL answers word
prefixes from the GIN index of those rows."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.dialects import postgresql

from fhir_server.config import Settings
from fhir_server.db.tables import resources, search_string, search_text
from fhir_server.search.sql.dialect import word_prefixes
from fhir_server.storage.driver import compile_for
from tests.fhir_server.db.support import at_revision, in_transaction

WORDS = {(7, "_content"): ["glucose", "serum", "okafor"], (7, "_text"): ["fasting"], (8, "_content"): ["hba1c"]}


async def write_0012_rows(conn) -> None:
    """Two resources with words as the 0012 schema held them, one string row per word, and a name."""
    for pk in (7, 8):
        await conn.execute(insert(resources).values(
            pk=pk, res_type="Observation", res_id=f"o{pk}", version_id=1, last_updated=1, deleted=False, body=b"x"))
    for (pk, param), words in WORDS.items():
        for word in words:
            await conn.execute(insert(search_string).values(
                resource_pk=pk, res_type="Observation", param=param, value_norm=word, value_exact=word))
    await conn.execute(insert(search_string).values(
        resource_pk=7, res_type="Observation", param="name", value_norm="okafor", value_exact="Okafor"))


async def string_rows(conn) -> list[tuple[int, str, str]]:
    rows = await conn.execute(select(search_string.c.resource_pk, search_string.c.param, search_string.c.value_norm))
    return sorted(tuple(row) for row in rows)


async def text_rows(conn) -> dict[tuple[int, str], list[str]]:
    rows = await conn.execute(text("SELECT resource_pk, param, words FROM search_text"))
    return {(pk, param): words.split(" ") for pk, param, words in rows}


def test_words_move_to_one_row_per_resource_and_back(settings: Settings):
    url = settings.sqlalchemy_url
    with at_revision(url, "0012"):
        in_transaction(url, write_0012_rows)
        before = in_transaction(url, string_rows)
        assert len(before) == 6
    assert in_transaction(url, text_rows) == WORDS
    assert in_transaction(url, string_rows) == [(7, "name", "okafor")]
    with at_revision(url, "0012"):
        assert in_transaction(url, string_rows) == before
    assert in_transaction(url, text_rows) == WORDS


def test_postgresql_finds_word_prefixes_through_the_gin_index(postgres_url):
    """The query's tsvector expression is the index's own, so the planner can use the index (sequential
    scans off: the test tables are too small for it to choose the index by cost)."""
    if postgres_url is None:
        pytest.skip("the GIN index is PostgreSQL's")
    rows = select(search_text.c.resource_pk).where(word_prefixes.of(search_text.c.words, ["gluc", "ser"]))
    sql, params = compile_for(rows, postgresql.asyncpg.dialect())

    async def explain() -> str:
        conn = await asyncpg.connect(postgres_url)
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL enable_seqscan = off")
                rows = await conn.fetch("EXPLAIN " + sql, *params)
                return "\n".join(row[0] for row in rows)
        finally:
            await conn.close()

    assert "ix_search_text_words" in asyncio.run(explain())
