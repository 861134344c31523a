"""Migration 0022: PostgreSQL's index tables lose their own key (column, primary key, sequence); on
SQLite, where it is the rowid itself, the column stays. Index rows go in without it on both."""

from __future__ import annotations

from sqlalchemy import text

from fhir_server.config import Settings
from tests.fhir_server.db.support import at_revision, in_transaction

TABLES = ("search_string", "search_token", "search_date", "search_number", "search_quantity", "search_reference",
          "search_uri", "search_text")


async def keyed(conn) -> dict[str, bool]:
    """Whether each index table has a `pk` column (and, on PostgreSQL, its sequence)."""
    if conn.dialect.name == "postgresql":
        columns = {row[0] for row in await conn.execute(text(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'pk' "
            "AND table_name LIKE 'search\\_%'"))}
        sequences = {row[0] for row in await conn.execute(text(
            "SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE 'search\\_%'"))}
        return {table: table in columns and f"{table}_pk_seq" in sequences for table in TABLES}
    found = {}
    for table in TABLES:
        found[table] = any(row[1] == "pk" for row in await conn.execute(text(f"PRAGMA table_info({table})")))
    return found


def test_postgresql_drops_the_key_and_sqlite_keeps_its_rowid(settings: Settings) -> None:
    url = settings.sqlalchemy_url
    postgres = url.startswith("postgresql")
    assert in_transaction(url, keyed) == dict.fromkeys(TABLES, not postgres)
    with at_revision(url, "0021"):
        assert in_transaction(url, keyed) == dict.fromkeys(TABLES, True)
    assert in_transaction(url, keyed) == dict.fromkeys(TABLES, not postgres)


async def test_resources_are_indexed_found_and_sorted_without_the_key(client) -> None:
    for family in ("Okafor", "Abara", "Okafor"):
        created = await client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
        assert created.status_code == 201, created.text
    found = await client.get("/fhir/Patient", params={"family": "okafor", "_sort": "-family"})
    assert found.status_code == 200, found.text
    assert [entry["resource"]["name"][0]["family"] for entry in found.json()["entry"]] == ["Okafor", "Okafor"]
    everyone = await client.get("/fhir/Patient", params={"_sort": "family"})
    assert [entry["resource"]["name"][0]["family"] for entry in everyone.json()["entry"]] == ["Abara", "Okafor", "Okafor"]
