"""Migration 0014: the rows of combo-code-value-quantity / combo-code-value-concept go (they are searched
through the composites they unite) and a downgrade writes them again from those composites' rows.
At head, code-value-quantity has no rows either (0018): a downgrade writes them from code and
value-quantity's."""

from __future__ import annotations

from sqlalchemy import insert, select

from fhir_server.config import Settings
from fhir_server.db.tables import search_quantity, search_token
from tests.fhir_server.db.support import at_revision, in_transaction

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"


def token(param: str, code: str, element: int | None) -> dict:
    return {"resource_pk": 7, "res_type": "Observation", "param": param, "system": LOINC, "code": code,
            "text_norm": None, "element": element}


def quantity(param: str, value: float, element: int | None) -> dict:
    return {"resource_pk": 7, "res_type": "Observation", "param": param, "value": value, "low": value - 0.5,
            "high": value + 0.5, "system": UCUM, "code": "mm[Hg]", "unit": None, "canonical_value": None,
            "canonical_code": None, "element": element}


# a panel with a value of its own and two components, as extraction before 0014 wrote it
PLAIN = [token("code", "85354-9", None), quantity("value-quantity", 1, None)]
OWN = [token("code-value-quantity$0", "85354-9", 0), quantity("code-value-quantity$1", 1, 0)]
COMPONENTS = [token("component-code-value-quantity$0", "8480-6", 0), quantity("component-code-value-quantity$1", 150, 0),
              token("component-code-value-quantity$0", "8462-4", 1), quantity("component-code-value-quantity$1", 90, 1)]
UNION = [token("combo-code-value-quantity$0", "85354-9", 0), quantity("combo-code-value-quantity$1", 1, 0),
         token("combo-code-value-quantity$0", "8480-6", 1), quantity("combo-code-value-quantity$1", 150, 1),
         token("combo-code-value-quantity$0", "8462-4", 2), quantity("combo-code-value-quantity$1", 90, 2)]


async def write(conn) -> None:
    for row in [*PLAIN, *OWN, *COMPONENTS, *UNION]:
        await conn.execute(insert(search_quantity if "value" in row else search_token).values(**row))


async def rows(conn) -> set[tuple]:
    found = set()
    for table, columns in ((search_token, ("code",)), (search_quantity, ("value",))):
        result = await conn.execute(select(table.c.param, table.c.element, *(table.c[c] for c in columns)))
        found |= {tuple(row) for row in result}
    return found


def expected(*groups: list[dict]) -> set[tuple]:
    return {(row["param"], row["element"], row["value"] if "value" in row else row["code"])
            for group in groups for row in group}


def test_union_rows_go_and_come_back(settings: Settings):
    url = settings.sqlalchemy_url
    with at_revision(url, "0013"):
        in_transaction(url, write)
        assert in_transaction(url, rows) == expected(PLAIN, OWN, COMPONENTS, UNION)
    assert in_transaction(url, rows) == expected(PLAIN, COMPONENTS)
    with at_revision(url, "0013"):
        # with the rows of combo-code and combo-value-quantity 0017's downgrade writes from the plain ones
        plain_unions = [token("combo-code", "85354-9", None), quantity("combo-value-quantity", 1, None)]
        assert in_transaction(url, rows) == expected(PLAIN, OWN, COMPONENTS, UNION, plain_unions)
