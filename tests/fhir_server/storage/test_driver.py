"""`compile_for` keeps compiled statements by shape: a statement of a known shape with other values
(a conditional match's identifier, an IN list of another length) gives the SQL and parameters that
compiling it afresh gives, on both dialects."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from fhir_server.db.tables import resources
from fhir_server.search import compile_query, parse_query
from fhir_server.storage.driver import compile_for
from fhir_server.wiring import search_registry

CRITERIA = [
    ("Observation", [("identifier", "urn:hl7v2:LIS|FILL-1/LN/2345-7/-")]),
    ("Observation", [("identifier", "urn:hl7v2:LIS|FILL-2/LN/2160-0/-")]),
    ("Observation", [("identifier", "FILL-3")]),
    ("Observation", [("identifier", "a,b,c")]),
    ("Patient", [("identifier", "urn:hl7v2:HOSP|MRN7"), ("birthdate", "ge1970")]),
    ("Patient", [("identifier", "urn:hl7v2:HOSP|MRN8"), ("birthdate", "lt1980-05")]),
    ("Observation", [("code-value-quantity", "1$gt5|http://unitsofmeasure.org|mg")]),
]


def afresh(statement: Any, dialect: Any) -> tuple[str, list[Any]]:
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors
    params = compiled.params
    return str(compiled), [processors[n](params[n]) if n in processors else params[n]
                           for n in compiled.positiontup or ()]


@pytest.mark.parametrize("dialect", [postgresql.asyncpg.dialect(), sqlite.aiosqlite.dialect()],
                         ids=["postgresql", "sqlite"])
def test_a_known_shape_with_other_values_compiles_as_afresh(dialect: Any) -> None:
    registry = search_registry()
    for _ in range(2):  # the second time round every shape is known
        for res_type, pairs in CRITERIA:
            statement = compile_query(parse_query(registry, res_type, pairs)).add_columns(resources.c.res_id)
            assert compile_for(statement, dialect) == afresh(statement, dialect)
        for pks in ([1, 2, 3], [4], [5, 6]):
            statement = resources.select().where(resources.c.pk.in_(pks))
            assert compile_for(statement, dialect) == afresh(statement, dialect)
    sql, params = compile_for(compile_query(parse_query(registry, "Observation", [("identifier", "s|v9")]))
                              .add_columns(resources.c.res_id), dialect)
    assert "v9" in params and "s" in params and "v9" not in sql
