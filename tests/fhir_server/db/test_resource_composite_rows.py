"""Migration 0018: the rows of code-value-quantity and code-value-concept go (they are searched through
the rows of code, value-quantity and value-concept of one Observation), and a downgrade writes them
again from those rows, for the Observations having both components."""

from __future__ import annotations

from sqlalchemy import insert, select

from fhir_server.config import Settings
from fhir_server.db.tables import search_quantity, search_token
from tests.fhir_server.db.support import at_revision, in_transaction

LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"


def token(pk: int, param: str, system: str | None, code: str | None, text: str | None = None,
          element: int | None = None) -> dict:
    return {"resource_pk": pk, "res_type": "Observation", "param": param, "system": system, "code": code,
            "text_norm": text, "element": element}


def quantity(pk: int, param: str, value: float, element: int | None = None) -> dict:
    return {"resource_pk": pk, "res_type": "Observation", "param": param, "value": value, "low": value - 0.05,
            "high": value + 0.05, "system": UCUM, "code": "mmol/L", "unit": "mmol/L", "canonical_value": value,
            "canonical_code": "mmol/L", "element": element}


# a glucose (two codings and a text), a smoking status, and a result without a value
PLAIN = [token(7, "code", LOINC, "2345-7"), token(7, "code", "urn:lab", "GLU"), token(7, "code", None, None, "glucose"),
         quantity(7, "value-quantity", 6.3),
         token(8, "code", LOINC, "72166-2"), token(8, "value-concept", SNOMED, "8517006"),
         token(9, "code", LOINC, "718-7")]
# what extraction wrote for them before 0018
COMPOSITE = [token(7, "code-value-quantity$0", LOINC, "2345-7", element=0),
             token(7, "code-value-quantity$0", "urn:lab", "GLU", element=0),
             token(7, "code-value-quantity$0", None, None, "glucose", element=0),
             quantity(7, "code-value-quantity$1", 6.3, element=0),
             token(8, "code-value-concept$0", LOINC, "72166-2", element=0),
             token(8, "code-value-concept$1", SNOMED, "8517006", element=0)]


async def write(conn) -> None:
    for row in [*PLAIN, *COMPOSITE]:
        await conn.execute(insert(search_quantity if "value" in row else search_token).values(**row))


async def rows(conn) -> list[tuple]:
    found = []
    for table, columns in ((search_token, ("system", "code", "text_norm")), (search_quantity, ("value", "code"))):
        found += [tuple(row) for row in await conn.execute(
            select(table.c.resource_pk, table.c.param, table.c.element, *(table.c[c] for c in columns)))]
    return sorted(found, key=repr)


def expected(*groups: list[dict]) -> list[tuple]:
    return sorted(((row["resource_pk"], row["param"], row["element"],
                    *((row["value"], row["code"]) if "value" in row else (row["system"], row["code"], row["text_norm"])))
                   for group in groups for row in group), key=repr)


def test_composite_rows_go_and_come_back_for_observations_with_both_components(settings: Settings):
    url = settings.sqlalchemy_url
    with at_revision(url, "0017"):
        in_transaction(url, write)
        assert in_transaction(url, rows) == expected(PLAIN, COMPOSITE)
    assert in_transaction(url, rows) == expected(PLAIN)
    with at_revision(url, "0017"):
        assert in_transaction(url, rows) == expected(PLAIN, COMPOSITE)
