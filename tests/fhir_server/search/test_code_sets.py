"""Parsing the terminology modifiers and turning them into codes (`search.code_sets`), with the
shipped terminology content; the SQL they compile to runs in tests/fhir_server/api/test_search_terminology.py."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from fhir_server.errors import BadRequest
from fhir_server.search import NotSupported, Predicate, SearchRegistry, compile_query, parse_query
from fhir_server.search.code_sets import resolve_codes
from fhir_server.search.query import TokenValue
from terminology import TerminologyStore

SNOMED = "http://snomed.info/sct"
GENDER = "http://hl7.org/fhir/administrative-gender"


class StoreCodes:
    """The `CodeSets` port straight over a terminology store (what the service layer adds is the
    look-up of stored ValueSets by reference)."""

    def __init__(self, store: TerminologyStore) -> None:
        self.store = store

    def value_set_codes(self, reference: str) -> Collection[tuple[str, str]]:
        return self.store.codes_in(reference)

    def related_codes(self, system: str, code: str, *, above: bool) -> Collection[str]:
        return self.store.ancestors(system, code) if above else self.store.descendants(system, code)


@pytest.fixture(scope="module")
def codes() -> StoreCodes:
    return StoreCodes(TerminologyStore())


def _predicate(registry: SearchRegistry, codes: StoreCodes | None, res_type: str, name: str, value: str) -> Predicate:
    query = resolve_codes(parse_query(registry, res_type, [(name, value)]), codes)
    predicate = query.criteria[0]
    assert isinstance(predicate, Predicate)
    return predicate


def test_in_and_not_in_take_value_set_references(registry: SearchRegistry) -> None:
    predicate = _predicate(registry, None, "Observation", "code:in", r"http://x/vs|1\,0,ValueSet/2")
    assert predicate.modifier == "in" and predicate.values == ("http://x/vs|1,0", "ValueSet/2")


@pytest.mark.parametrize("value", ["73211009", f"{SNOMED}|", "|73211009"])
def test_above_and_below_need_system_and_code(registry: SearchRegistry, value: str) -> None:
    with pytest.raises(BadRequest, match="system\\|code"):
        parse_query(registry, "Condition", [("code:below", value)])


def test_value_sets_become_their_codes(registry: SearchRegistry, codes: StoreCodes) -> None:
    predicate = _predicate(registry, codes, "Patient", "gender:not-in", "http://hl7.org/fhir/ValueSet/administrative-gender")
    assert predicate.modifier == "not-in"
    assert set(predicate.values) == {TokenValue(GENDER, c) for c in ("male", "female", "other", "unknown")}


def test_below_and_above_follow_the_hierarchy(registry: SearchRegistry, codes: StoreCodes) -> None:
    below = _predicate(registry, codes, "Condition", "code:below", f"{SNOMED}|73211009")
    assert below.modifier == "in" and {v.code for v in below.values if isinstance(v, TokenValue)} == {
        "73211009", "46635009", "44054006", "313436004", "237599002"}
    above = _predicate(registry, codes, "Condition", "code:above", f"{SNOMED}|46177005")
    assert {v.code for v in above.values if isinstance(v, TokenValue)} == {
        "46177005", "90688005", "42399005", "709044004", "90708001"}


def test_chains_and_has_are_resolved_too(registry: SearchRegistry, codes: StoreCodes) -> None:
    query = resolve_codes(parse_query(registry, "Patient", [("_has:Condition:subject:code:below", f"{SNOMED}|44054006")]),
                          codes)
    inner = query.criteria[0].inner  # type: ignore[union-attr]
    assert isinstance(inner, Predicate) and inner.modifier == "in" and len(inner.values) == 3


def test_unknown_value_sets_and_systems_are_400_naming_the_parameter(registry: SearchRegistry,
                                                                     codes: StoreCodes) -> None:
    with pytest.raises(BadRequest, match="code:in.*http://x/nope") as raised:
        _predicate(registry, codes, "Observation", "code:in", "http://x/nope")
    assert raised.value.status == 400
    with pytest.raises(BadRequest, match="code:above.*http://x/cs"):
        _predicate(registry, codes, "Observation", "code:above", "http://x/cs|a")


def test_without_terminology_compiling_refuses_them(registry: SearchRegistry) -> None:
    for name, value in (("code:in", "http://x/vs"), ("code:below", f"{SNOMED}|73211009")):
        with pytest.raises(NotSupported, match="terminology"):
            compile_query(parse_query(registry, "Condition", [(name, value)]))
