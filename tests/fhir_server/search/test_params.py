from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_server.errors import BadRequest
from fhir_server.search import (
    Chain,
    Has,
    NotSupported,
    ParsedQuery,
    Predicate,
    SearchRegistry,
    UnknownParameter,
    parse_query,
)
from fhir_server.search.dates import parse_date_range
from fhir_server.search.param_values import split_escaped, unescape
from fhir_server.search.params import parse_system_query
from fhir_server.search.query import (
    CompositeValue,
    DateValue,
    NumberValue,
    QuantityValue,
    ReferenceValue,
    TokenValue,
)


def parse(registry: SearchRegistry, resource_type: str, *pairs: tuple[str, str], lenient: bool = False) -> ParsedQuery:
    return parse_query(registry, resource_type, list(pairs), lenient=lenient)


def only(query: ParsedQuery) -> Predicate:
    [node] = query.criteria
    assert isinstance(node, Predicate)
    return node


def test_plain_string_and_modifiers(registry: SearchRegistry) -> None:
    node = only(parse(registry, "Patient", ("name", "Ann")))
    assert (node.param.code, node.modifier, node.values) == ("name", None, ("Ann",))
    for modifier in ("exact", "contains", "missing"):
        value = "true" if modifier == "missing" else "x"
        assert only(parse(registry, "Patient", (f"name:{modifier}", value))).modifier == modifier
    assert only(parse(registry, "Patient", ("name:missing", "false"))).values == (False,)


def test_comma_is_or_and_repetition_is_and(registry: SearchRegistry) -> None:
    query = parse(registry, "Patient", ("given", "Ann,Bob"), ("given", "Marie"))
    assert [node.values for node in query.criteria if isinstance(node, Predicate)] == [("Ann", "Bob"), ("Marie",)]


def test_escaping(registry: SearchRegistry) -> None:
    assert only(parse(registry, "Patient", ("name", r"a\,b,c"))).values == ("a,b", "c")
    assert only(parse(registry, "Patient", ("identifier", r"http://x|a\|b"))).values == (TokenValue("http://x", "a|b"),)
    assert only(parse(registry, "Patient", ("name", r"back\\slash"))).values == ("back\\slash",)
    assert split_escaped(r"a\,b,c\$d", ",") == [r"a\,b", r"c\$d"] and unescape(r"c\$d") == "c$d"


def test_token_forms(registry: SearchRegistry) -> None:
    values = only(parse(registry, "Observation", ("code", "http://loinc.org|1234-5,|abc,http://loinc.org|,xyz"))).values
    assert values == (TokenValue("http://loinc.org", "1234-5"), TokenValue("", "abc"),
                      TokenValue("http://loinc.org", None), TokenValue(None, "xyz"))
    assert only(parse(registry, "Observation", ("code:text", "body wei"))).values == ("body wei",)
    assert only(parse(registry, "Observation", ("status:not", "final"))).modifier == "not"
    of_type = only(parse(registry, "Patient", ("identifier:of-type", "http://t|MR|123")))
    assert of_type.values == (TokenValue("http://t", "MR|123"),)


@pytest.mark.parametrize("value", ["a|b|c", "|"])
def test_malformed_tokens(registry: SearchRegistry, value: str) -> None:
    with pytest.raises(BadRequest, match="'code'"):
        parse(registry, "Observation", ("code", value))


@pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"])
def test_prefixes_on_dates_numbers_quantities(registry: SearchRegistry, prefix: str) -> None:
    low, high = parse_date_range("2024-03")
    assert only(parse(registry, "Observation", ("date", f"{prefix}2024-03"))).values == (DateValue(prefix, low, high),)
    [number] = only(parse(registry, "RiskAssessment", ("probability", f"{prefix}0.5"))).values
    assert isinstance(number, NumberValue) and (number.prefix, number.value) == (prefix, Decimal("0.5"))
    [quantity] = only(parse(registry, "Observation", ("value-quantity", f"{prefix}5.4|http://unitsofmeasure.org|mg"))).values
    assert isinstance(quantity, QuantityValue)
    assert (quantity.prefix, quantity.value, quantity.system, quantity.code) == (
        prefix, Decimal("5.4"), "http://unitsofmeasure.org", "mg")


def test_values_without_prefix_default_to_eq_and_keep_precision(registry: SearchRegistry) -> None:
    [number] = only(parse(registry, "RiskAssessment", ("probability", "100"))).values
    assert isinstance(number, NumberValue) and (number.prefix, number.low, number.high) == ("eq", 99.5, 100.5)
    [negative] = only(parse(registry, "RiskAssessment", ("probability", "lt-1"))).values
    assert isinstance(negative, NumberValue) and negative.value == Decimal("-1")
    [quantity] = only(parse(registry, "Observation", ("value-quantity", "5.4||mg"))).values
    assert isinstance(quantity, QuantityValue) and (quantity.system, quantity.code) == (None, "mg")
    # a string starting like a prefix is not split
    assert only(parse(registry, "Patient", ("name", "geoff"))).values == ("geoff",)


@pytest.mark.parametrize(("name", "value"), [
    ("birthdate", "1980-13"), ("birthdate", "xx2020"), ("birthdate", "gt"), ("probability", "abc"),
    ("value-quantity", "5|kg"), ("name:missing", "yes"),
])
def test_malformed_values_name_the_parameter(registry: SearchRegistry, name: str, value: str) -> None:
    resource_type = "RiskAssessment" if name == "probability" else "Observation" if "quantity" in name else "Patient"
    with pytest.raises(BadRequest, match=name.split(":")[0]):
        parse(registry, resource_type, (name, value))


def test_malformed_values_raise_even_when_lenient(registry: SearchRegistry) -> None:
    with pytest.raises(BadRequest):
        parse(registry, "Patient", ("birthdate", "1980-13"), lenient=True)


def test_reference_forms(registry: SearchRegistry) -> None:
    values = only(parse(registry, "Observation", (
        "subject", "Patient/p1,p2,Patient/p1/_history/3,http://other/fhir/Patient/9"))).values
    assert values == (ReferenceValue("Patient", "p1"), ReferenceValue(None, "p2"),
                      ReferenceValue("Patient", "p1", "3"), ReferenceValue(url="http://other/fhir/Patient/9"))
    typed = only(parse(registry, "Observation", ("subject:Patient", "p1")))
    assert typed.modifier == "Patient" and typed.values == (ReferenceValue("Patient", "p1"),)
    canonical = only(parse(registry, "QuestionnaireResponse", ("questionnaire", "http://x/q|2.0")))
    assert canonical.values == (ReferenceValue(url="http://x/q", version="2.0"),)
    identifier = only(parse(registry, "Observation", ("subject:identifier", "http://ids|123")))
    assert identifier.values == (TokenValue("http://ids", "123"),)


def test_reference_type_modifier_must_fit(registry: SearchRegistry) -> None:
    with pytest.raises(BadRequest, match="Medication"):
        parse(registry, "Observation", ("subject:Medication", "x"))
    with pytest.raises(BadRequest, match="modifier"):
        parse(registry, "Observation", ("subject:Patient", "Group/g1"))


def test_uri_modifiers(registry: SearchRegistry) -> None:
    assert only(parse(registry, "ValueSet", ("url:below", "http://x/"))).modifier == "below"
    assert only(parse(registry, "ValueSet", ("url:above", "http://x/a/b"))).modifier == "above"


def test_chain_with_type(registry: SearchRegistry) -> None:
    [chain] = parse(registry, "Observation", ("subject:Patient.name", "ann")).criteria
    assert isinstance(chain, Chain) and chain.param.code == "subject"
    [(target, inner)] = chain.targets
    assert target == "Patient" and isinstance(inner, Predicate) and inner.param.resource_type == "Patient"


def test_chain_without_type_tries_every_target_with_the_parameter(registry: SearchRegistry) -> None:
    [chain] = parse(registry, "Observation", ("subject.name", "ann")).criteria
    assert isinstance(chain, Chain)
    assert sorted(target for target, _ in chain.targets) == ["Location", "Patient"]  # Group, Device: no name
    [chain] = parse(registry, "Observation", ("subject.birthdate", "1974")).criteria
    assert isinstance(chain, Chain) and [target for target, _ in chain.targets] == ["Patient"]


def test_multi_level_chain(registry: SearchRegistry) -> None:
    [chain] = parse(registry, "Observation", ("subject:Patient.organization.name:exact", "General Hospital")).criteria
    assert isinstance(chain, Chain)
    [(_, inner)] = chain.targets
    assert isinstance(inner, Chain) and inner.param.code == "organization"
    [(target, leaf)] = inner.targets
    assert target == "Organization" and isinstance(leaf, Predicate) and leaf.modifier == "exact"


@pytest.mark.parametrize("name", ["name.family", "subject:missing.name", "subject.nothing", "subject:Patient.nothing"])
def test_bad_chains(registry: SearchRegistry, name: str) -> None:
    resource_type = "Patient" if name.startswith("name") else "Observation"
    with pytest.raises(BadRequest):
        parse(registry, resource_type, (name, "x"))


def test_has_and_nested_has(registry: SearchRegistry) -> None:
    [has] = parse(registry, "Patient", ("_has:Observation:patient:code", "1234-5")).criteria
    assert isinstance(has, Has) and has.resource_type == "Observation" and has.reference.code == "patient"
    assert isinstance(has.inner, Predicate) and has.inner.param.resource_type == "Observation"
    [nested] = parse(registry, "Patient", ("_has:Observation:patient:_has:DiagnosticReport:result:status",
                                           "final")).criteria
    assert isinstance(nested, Has) and isinstance(nested.inner, Has)
    assert nested.inner.resource_type == "DiagnosticReport" and nested.inner.reference.code == "result"
    [with_modifier] = parse(registry, "Patient", ("_has:Observation:subject:code:text", "weight")).criteria
    assert isinstance(with_modifier, Has) and isinstance(with_modifier.inner, Predicate)
    assert with_modifier.inner.modifier == "text"


@pytest.mark.parametrize("name", [
    "_has:Observation:patient", "_has:Nope:patient:code", "_has:Observation:code:code",
    "_has:Observation:nothing:code", "_has:Observation:patient:nothing", "_has:Observation:encounter:code",
])
def test_bad_has(registry: SearchRegistry, name: str) -> None:
    with pytest.raises(BadRequest):
        parse(registry, "Patient", (name, "x"))


def test_unknown_parameter_and_modifier_name_it(registry: SearchRegistry) -> None:
    with pytest.raises(BadRequest, match="'colour'"):
        parse(registry, "Patient", ("colour", "red"))
    with pytest.raises(BadRequest, match=":fuzzy"):
        parse(registry, "Patient", ("name:fuzzy", "x"))
    with pytest.raises(BadRequest, match="of-type"):
        parse(registry, "Patient", ("telecom:of-type", "a|b|c"))
    with pytest.raises(BadRequest, match="unknown resource type"):
        parse(registry, "Nope", ("name", "x"))


@pytest.mark.parametrize(("resource_type", "name", "value"), [
    ("Location", "partof:below", "Location/1"),
    ("Observation", "_id:in", "http://x/vs"),
    ("Patient", "_query", "x"),
    ("Patient", "_list", "$current-allergies"),
    ("Patient", "_type", "Patient"),
    ("Location", "near", "1|2|3|km"),
    ("Patient", "_id:text", "x"),
])
def test_unsupported_is_a_clear_400(registry: SearchRegistry, resource_type: str, name: str, value: str) -> None:
    with pytest.raises(NotSupported, match=name.split(":")[0]) as raised:
        parse(registry, resource_type, (name, value))
    assert raised.value.status == 400 and raised.value.code == "not-supported"


def test_parameter_without_expression_is_not_supported() -> None:
    registry = SearchRegistry.from_definitions([])
    registry.register({"url": "u", "code": "vague", "type": "string", "base": ["Patient"]})
    with pytest.raises(NotSupported, match="vague"):
        parse_query(registry, "Patient", [("vague", "x")])


def test_composite_values_are_typed_per_component(registry: SearchRegistry) -> None:
    query = parse(registry, "Observation", ("code-value-quantity", r"http://loinc.org|8480-6$lt60,8462-4$ge90"))
    predicate = query.criteria[0]
    assert isinstance(predicate, Predicate)
    first, second = predicate.values
    assert isinstance(first, CompositeValue) and isinstance(second, CompositeValue)
    assert first.parts[0] == ("token", TokenValue("http://loinc.org", "8480-6"))
    assert first.parts[1][0] == "quantity" and first.parts[1][1].prefix == "lt"
    assert second.parts[0] == ("token", TokenValue(None, "8462-4"))


@pytest.mark.parametrize("value", ["8480-6", "8480-6$lt60$x", "$lt60", "8480-6$notanumber"])
def test_malformed_composites_are_400(registry: SearchRegistry, value: str) -> None:
    with pytest.raises(BadRequest, match="code-value-quantity"):
        parse(registry, "Observation", ("code-value-quantity", value))


def test_missing_on_a_composite_tests_its_first_component(registry: SearchRegistry) -> None:
    predicate = parse(registry, "Observation", ("component-code-value-quantity:missing", "true")).criteria[0]
    assert isinstance(predicate, Predicate)
    assert predicate.param.code == "component-code-value-quantity$0" and predicate.param.type == "token"
    # one made of plain parameters is asked of as itself (each of them present)
    derived = parse(registry, "Observation", ("code-value-quantity:missing", "true")).criteria[0]
    assert isinstance(derived, Predicate) and derived.values == (True,)
    assert derived.param.code == "code-value-quantity" and derived.param.component_params
    union = parse(registry, "Observation", ("combo-code-value-quantity:missing", "false")).criteria[0]
    assert isinstance(union, Predicate)
    assert [(p.code, p.type) for p in union.param.union_of] == [
        ("code-value-quantity", "composite"), ("component-code-value-quantity$0", "token")]


def test_text_content_and_list_parse(registry: SearchRegistry) -> None:
    query = parse(registry, "Observation", ("_text", "glucose"), ("_content", "serum,plasma"), ("_list", "l1,l2"))
    codes = [(node.param.code, node.values) for node in query.criteria if isinstance(node, Predicate)]
    assert codes == [("_text", ("glucose",)), ("_content", ("serum", "plasma")), ("_list", ("l1", "l2"))]
    with pytest.raises(BadRequest, match="no modifier"):
        parse(registry, "Observation", ("_text:exact", "x"))


def test_system_search_takes_common_parameters_only(registry: SearchRegistry) -> None:
    query = parse_system_query(registry, ["Patient", "Observation"], [("_id", "a"), ("_tag", "x|y"), ("_sort", "-_lastUpdated")])
    assert query.types == ("Patient", "Observation") and len(query.criteria) == 2
    assert all(node.param.resource_type == "" for node in query.criteria if isinstance(node, Predicate))
    with pytest.raises(UnknownParameter):
        parse_system_query(registry, ["Patient", "Observation"], [("colour", "red")])
    with pytest.raises(NotSupported, match="different things"):
        parse_system_query(registry, ["Patient", "Observation"], [("identifier", "x")])
    with pytest.raises(NotSupported, match="chains"):
        parse_system_query(registry, [], [("subject.name", "x")])
    with pytest.raises(BadRequest, match="unknown resource type"):
        parse_system_query(registry, ["Nope"], [])
    assert parse_system_query(registry, ["Patient"], [("name", "ann")]).criteria


def test_lenient_collects_unknown_and_unsupported(registry: SearchRegistry) -> None:
    query = parse(registry, "Patient", ("colour", "red"), ("name", "ann"), ("_query", "x"), ("_sort", "colour"),
                  lenient=True)
    assert query.ignored == ("colour", "_query", "_sort")
    assert [node.param.code for node in query.criteria if isinstance(node, Predicate)] == ["name"]


def test_empty_values_are_ignored(registry: SearchRegistry) -> None:
    assert parse(registry, "Patient", ("name", ""), ("given", ",")).criteria == ()
    assert parse(registry, "Patient", ("general-practitioner:Practitioner.name", ","), ("_has:Observation:patient:code", ",")
                 ).criteria == ()


def test_result_parameters_are_kept_aside(registry: SearchRegistry) -> None:
    query = parse(registry, "Observation", ("code", "x"), ("_count", "10"), ("_sort", "-date,code,_id"),
                  ("_include", "Observation:subject:Patient"), ("_include:iterate", "Patient:organization"),
                  ("_revinclude", "Provenance:target"), ("_summary", "count"), ("_elements", "code, subject"),
                  ("_total", "accurate"), ("_contained", "both"), ("_containedType", "contained"),
                  ("_format", "json"), ("_pretty", "true"), ("_cursor", "abc"))
    assert len(query.criteria) == 1
    result = query.result
    assert result.count == 10
    assert [(key.param.code, key.descending) for key in result.sort] == [("date", True), ("code", False), ("_id", False)]
    assert [(i.source_type, i.param, i.target_type, i.iterate) for i in result.include] == [
        ("Observation", "subject", "Patient", False), ("Patient", "organization", None, True)]
    assert [(i.source_type, i.param) for i in result.revinclude] == [("Provenance", "target")]
    assert (result.summary, result.elements, result.total, result.contained, result.contained_type) == (
        "count", ("code", "subject"), "accurate", "both", "contained")
    assert (result.format, result.pretty, result.cursor) == ("json", True, "abc")


@pytest.mark.parametrize(("name", "value"), [
    ("_count", "-1"), ("_count", "ten"), ("_summary", "maybe"), ("_total", "all"), ("_sort", "subject"),
    ("_sort", "nothing"), ("_include", "Observation"), ("_include", "Observation:code"), ("_include:deep", "A:b"),
    ("_count:x", "1"),
])
def test_bad_result_parameters(registry: SearchRegistry, name: str, value: str) -> None:
    with pytest.raises(BadRequest):
        parse(registry, "Observation", (name, value))
