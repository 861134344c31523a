"""The compiled CodeSystem: concepts, hierarchy (nesting, parent/child properties), case, status."""

from __future__ import annotations

from terminology import CodeSystem

CS = {
    "resourceType": "CodeSystem", "url": "http://example.org/cs", "content": "complete", "caseSensitive": False,
    "concept": [
        {"code": "A", "display": "Alpha", "concept": [{"code": "A1", "display": "Alpha one"}]},
        {"code": "B", "display": "Beta", "property": [{"code": "child", "valueCode": "A1"},
                                                     {"code": "notSelectable", "valueBoolean": True}]},
        {"code": "C", "display": "Gamma", "property": [{"code": "parent", "valueCode": "A1"},
                                                      {"code": "status", "valueCode": "retired"},
                                                      {"code": "colour", "valueCoding": {"code": "red"}}]},
        {"code": "LOOP", "property": [{"code": "parent", "valueCode": "LOOP2"}]},
        {"code": "LOOP2", "property": [{"code": "parent", "valueCode": "LOOP"}]},
    ],
}


def test_hierarchy_from_nesting_and_properties() -> None:
    cs = CodeSystem(CS)
    assert cs.get("A1").parents == ["A", "B"]  # type: ignore[union-attr]
    assert cs.ancestors("C") == {"A1", "A", "B"}
    assert cs.descendants("A") == {"A1", "C"}
    assert cs.subsumes("B", "C") and not cs.subsumes("C", "B") and cs.subsumes("A", "A")
    assert cs.ancestors("LOOP") == {"LOOP2"}  # a cycle ends


def test_status_flags_values_and_case() -> None:
    cs = CodeSystem(CS)
    assert cs.get("B").abstract and not cs.get("A").abstract  # type: ignore[union-attr]
    assert cs.get("C").inactive  # type: ignore[union-attr]
    assert cs.get("C").values("colour") == ["red"]  # type: ignore[union-attr]
    assert cs.get("a1").code == "A1"  # type: ignore[union-attr]
    assert CodeSystem({**CS, "caseSensitive": True}).get("a1") is None
    assert len(cs) == 6 and cs.complete and cs.coverage_note() == ""
    assert "fragment" in CodeSystem({**CS, "content": "fragment"}).coverage_note()
