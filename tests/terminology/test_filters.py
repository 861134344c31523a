"""Concept filters on the properties that are not the code: display, parent, child, inactive."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest
from terminology import CodeSystem
from terminology.filters import ConceptFilter
from tests.terminology.test_code_system import CS


def _select(prop: str, op: str, value: str) -> set[str]:
    cs = CodeSystem(CS)
    flt = ConceptFilter(cs, prop, op, value)
    return {c.code for c in cs if flt.matches(c)}


def test_neighbour_display_and_status_filters() -> None:
    assert _select("parent", "=", "A") == {"A1"}
    assert _select("child", "=", "A1") == {"A", "B"}
    assert _select("display", "regex", "Alpha.*") == {"A", "A1"}
    assert _select("inactive", "=", "true") == {"C"}
    assert _select("notSelectable", "exists", "true") == {"B"}
    assert _select("concept", "in", "A, C") == {"A", "C"}


def test_refused_filters() -> None:
    cs = CodeSystem(CS)
    with pytest.raises(BadRequest, match="not supported"):
        ConceptFilter(cs, "display", "is-a", "A")
    with pytest.raises(BadRequest, match="regular expression"):
        ConceptFilter(cs, "code", "regex", "(")
    with pytest.raises(BadRequest):
        ConceptFilter(cs, "display", "exists", "maybe")
