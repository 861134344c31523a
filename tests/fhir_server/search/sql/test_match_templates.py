"""Conditional-match templates render exactly the SQL and parameters the compiler does, for every
value of their shape, on both dialects; queries of other shapes get no template."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Integer, literal
from sqlalchemy.ext.asyncio import create_async_engine

from fhir_server.db.tables import resources
from fhir_server.search import SearchRegistry, compile_query, parse_query
from fhir_server.search.normalize import MAX_INDEXED
from fhir_server.search.sql.match_templates import MatchTemplates
from fhir_server.storage.statements import compile_for

LONG = "x" * (MAX_INDEXED + 40)

# per shape, criteria with other values: the first builds the template, the others reuse it
SHAPES = [
    ("Patient", [[("identifier", "http://hospital.example/mrn|123")],
                 [("identifier", "urn:oid:1.2.3|A-9")],
                 [("identifier", f"http://{LONG}|{LONG}")]]),
    ("Patient", [[("identifier", "123")], [("identifier", "9$9")], [("identifier", r"a\,b")]]),
    ("Patient", [[("identifier", "|123")], [("identifier", "|77")]]),
    ("Patient", [[("identifier", "http://hospital.example/mrn|")], [("identifier", "urn:x|")]]),
    ("Observation", [[("identifier", "http://lab.example/filler|F1-1,http://lab.example/filler|F1-2")],
                     [("identifier", "a|b,c|d")]]),
    ("Observation", [[("identifier", "s|v"), ("status", "final")], [("identifier", "t|w"), ("status", "amended")]]),
    ("Observation", [[("identifier", "s|v"), ("identifier", "t|w")], [("identifier", "u|x"), ("identifier", "y|z")]]),
    ("Encounter", [[("class", "AMB")], [("class", "IMP")]]),
]

DIALECTS = {
    "postgresql": create_async_engine("postgresql+asyncpg://localhost/unused").dialect,
    "sqlite": create_async_engine("sqlite+aiosqlite://").dialect,
}


def _compiled(query: Any, row: int, dialect: Any) -> tuple[str, list[Any]]:
    statement = compile_query(query).add_columns(resources.c.res_id, literal(row, Integer).label("n"))
    return compile_for(statement, dialect)


@pytest.mark.parametrize("dialect_name", list(DIALECTS))
@pytest.mark.parametrize(("res_type", "examples"), SHAPES, ids=[f"{t}?{'&'.join(k for k, _ in e[0])}" for t, e in SHAPES])
def test_a_template_renders_what_the_compiler_renders(registry: SearchRegistry, dialect_name: str, res_type: str,
                                                      examples: list[list[tuple[str, str]]]) -> None:
    dialect, templates = DIALECTS[dialect_name], MatchTemplates()
    for row, criteria in enumerate(examples):
        query = parse_query(registry, res_type, criteria)
        template = templates.find(dialect, query)
        assert template is not None
        assert template.render(query, row) == _compiled(query, row, dialect)
    assert len(templates._templates) == 1  # one shape, built once


def test_placeholders_are_numbered_from_the_offset_on_postgresql(registry: SearchRegistry) -> None:
    dialect = DIALECTS["postgresql"]
    query = parse_query(registry, "Patient", [("identifier", "http://hospital.example/mrn|123")])
    template = MatchTemplates().find(dialect, query)
    assert template is not None
    sql, params = template.render(query, 0)
    shifted, same_params = template.render(query, 0, offset=10)
    assert same_params == params
    assert shifted == re.sub(r"\$(\d+)", lambda number: f"${int(number.group(1)) + 10}", sql)
    assert "$1::" in sql and "$11::" in shifted and "$1::" not in shifted


@pytest.mark.parametrize("criteria", [
    [("identifier:not", "s|v")],
    [("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|123")],
    [("identifier:text", "record")],
    [("identifier:missing", "true")],
    [("_id", "p1")],
    [("name", "ann")],
    [("birthdate", "2000-01-01")],
    [("identifier", "s|v"), ("name", "ann")],
    [("general-practitioner:Practitioner.identifier", "s|v")],
    [("identifier", "s|v"), ("_count", "1")],
], ids=lambda criteria: "&".join(f"{k}={v}" for k, v in criteria))
def test_other_shapes_have_no_template(registry: SearchRegistry, criteria: list[tuple[str, str]]) -> None:
    query = parse_query(registry, "Patient", criteria)
    assert MatchTemplates().find(DIALECTS["postgresql"], query) is None


def test_the_templates_kept_are_bounded(registry: SearchRegistry) -> None:
    templates = MatchTemplates(size=2)
    for res_type in ("Patient", "Practitioner", "Organization", "Location"):
        templates.find(DIALECTS["sqlite"], parse_query(registry, res_type, [("identifier", "s|v")]))
    assert [shape[0] for _, shape in templates._templates] == ["Organization", "Location"]
