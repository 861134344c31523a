"""The compiled-statement cache gives the same SQL and parameters as compiling afresh, on both dialects."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from fhir_server.db.tables import resources
from fhir_server.search import SearchRegistry, compile_page, parse_query
from fhir_server.search.sql.render import Renderer
from fhir_server.storage.driver import compile_for

QUERIES = [
    ("Observation", [("code", "a"), ("patient", "p1")]),
    ("Observation", [("code", "b"), ("patient", "p2")]),
    ("Observation", [("code", "a,b,c"), ("date", "ge2020"), ("_sort", "-date")]),
    ("Observation", [("_id", "x")]),
    ("Observation", [("_id", "x,y,z")]),
    ("Observation", [("code-value-quantity", "1$gt5|http://unitsofmeasure.org|mg")]),
    ("Observation", [("subject:Patient.name", "ann"), ("_has:DiagnosticReport:result:code", "z")]),
    ("Patient", [("name", "a"), ("_sort", "family,-birthdate"), ("_count", "7")]),
    ("Patient", [("_list", "l1"), ("_content", "ab cd")]),
]


@pytest.mark.parametrize("dialect", [postgresql.asyncpg.dialect(), sqlite.aiosqlite.dialect()],
                         ids=["postgresql", "sqlite"])
def test_cached_compilation_matches_compiling_afresh(registry: SearchRegistry, dialect: object) -> None:
    render = Renderer(dialect, size=4)  # small: entries are evicted and compiled again too
    for _ in range(2):
        for res_type, pairs in QUERIES:
            page = compile_page(parse_query(registry, res_type, pairs))
            for statement in (page.statement, page.with_resources()):
                assert render(statement) == compile_for(statement, dialect)
        for pks in ([1, 2, 3], [4], []):
            statement = resources.select().where(resources.c.pk.in_(pks))
            assert render(statement) == compile_for(statement, dialect)
