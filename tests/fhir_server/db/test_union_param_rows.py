"""Migration 0017: the rows of combo-code, combo-value-concept, combo-data-absent-reason and
combo-value-quantity go (they are searched through the parameters they unite), and a downgrade writes
them again from those parameters' rows, once per distinct value; extraction no longer writes them."""

from __future__ import annotations

from sqlalchemy import insert, select

from fhir_server.config import Settings
from fhir_server.db.tables import search_quantity, search_token
from fhir_server.search import SearchRegistry, extract
from tests.fhir_server.db.support import at_revision, in_transaction

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"


def token(param: str, code: str) -> dict:
    return {"resource_pk": 7, "res_type": "Observation", "param": param, "system": LOINC, "code": code,
            "text_norm": None, "element": None}


def quantity(param: str, value: float) -> dict:
    return {"resource_pk": 7, "res_type": "Observation", "param": param, "value": value, "low": value - 0.5,
            "high": value + 0.5, "system": UCUM, "code": "mm[Hg]", "unit": None, "canonical_value": None,
            "canonical_code": None, "element": None}


# a panel whose code is also one of its components' (so the union has it once), as written before 0017
SOURCES = [token("code", "85354-9"), token("component-code", "85354-9"), token("component-code", "8462-4"),
           quantity("value-quantity", 1), quantity("component-value-quantity", 90)]
UNION = [token("combo-code", "85354-9"), token("combo-code", "8462-4"), quantity("combo-value-quantity", 1),
         quantity("combo-value-quantity", 90)]


async def write(conn) -> None:
    for row in [*SOURCES, *UNION]:
        await conn.execute(insert(search_quantity if "value" in row else search_token).values(**row))


async def rows(conn) -> list[tuple]:
    """The plain and union rows (not the composite rows 0018's downgrade writes from the plain ones)."""
    found = []
    for table, column in ((search_token, "code"), (search_quantity, "value")):
        found += [tuple(row) for row in await conn.execute(select(table.c.param, table.c[column]))
                  if "$" not in row.param]
    return sorted(found)


def expected(*groups: list[dict]) -> list[tuple]:
    return sorted((row["param"], row["value"] if "value" in row else row["code"]) for group in groups for row in group)


def test_union_rows_go_and_come_back_once_per_value(settings: Settings):
    url = settings.sqlalchemy_url
    with at_revision(url, "0016"):
        in_transaction(url, write)
        assert in_transaction(url, rows) == expected(SOURCES, UNION)
    assert in_transaction(url, rows) == expected(SOURCES)
    with at_revision(url, "0016"):
        assert in_transaction(url, rows) == expected(SOURCES, UNION)


def test_extraction_writes_the_united_parameters_rows_only():
    panel = {"resourceType": "Observation", "status": "final",
             "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
             "valueQuantity": {"value": 1, "system": UCUM, "code": "mm[Hg]"},
             "component": [{"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA1"}]},
                            "dataAbsentReason": {"coding": [{"code": "masked"}]}}]}
    params = {row["param"] for kind_rows in extract(SearchRegistry.from_definitions(), panel).values()
              for row in kind_rows}
    assert {"code", "component-code", "value-quantity", "component-value-concept",
            "component-data-absent-reason"} <= params
    assert not params & {"combo-code", "combo-value-quantity", "combo-value-concept", "combo-data-absent-reason"}
