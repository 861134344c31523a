from __future__ import annotations

from typing import Any

import pytest

from fhir_server.search import SearchRegistry, extract
from fhir_server.search.dates import MAX_INSTANT, parse_date_range
from fhir_server.search.numbers import MAX_NUMBER
from resources.fhir_json import loads
from tests.fhir_server.search import samples

pytestmark = pytest.mark.filterwarnings("error")


def rows(registry: SearchRegistry, resource: dict[str, Any], kind: str, param: str) -> list[dict[str, Any]]:
    found = [
        {key: value for key, value in row.items() if key not in ("res_type", "param")}
        for row in extract(registry, resource)[kind] if row["param"] == param
    ]
    assert all(row["res_type"] == resource["resourceType"] for row in extract(registry, resource)[kind])
    return found


def test_every_kind_is_present_and_rows_carry_type_and_param(registry: SearchRegistry) -> None:
    result = extract(registry, samples.ANN)
    assert set(result) == {"string", "token", "date", "number", "quantity", "reference", "uri", "text"}
    assert all({"res_type", "param"} <= set(row) for kind_rows in result.values() for row in kind_rows)
    assert not any("resource_pk" in row for kind_rows in result.values() for row in kind_rows)


def test_human_name_indexes_each_part(registry: SearchRegistry) -> None:
    names = rows(registry, samples.ANN, "string", "name")
    assert {row["value_norm"] for row in names} == {"muller", "ann", "marie", "dr", "annie"}
    assert {"value_norm": "muller", "value_exact": "Müller"} in names
    assert [row["value_norm"] for row in rows(registry, samples.ANN, "string", "family")] == ["muller"]
    assert {row["value_norm"] for row in rows(registry, samples.ANN, "string", "given")} == {"ann", "marie", "annie"}


def test_address_parts_and_dedicated_parameters(registry: SearchRegistry) -> None:
    address = {row["value_norm"] for row in rows(registry, samples.ANN, "string", "address")}
    assert address == {"bahnhofstrasse 1", "zurich", "8001", "ch"}
    assert rows(registry, samples.ANN, "string", "address-city") == [{"value_norm": "zurich", "value_exact": "Zürich"}]


def test_tokens_from_codes_booleans_identifiers_and_contact_points(registry: SearchRegistry) -> None:
    def token(system: str | None, code: str | None, text: str | None = None) -> dict[str, Any]:
        return {"system": system, "code": code, "text_norm": text}

    assert rows(registry, samples.ANN, "token", "gender") == [token(None, "female")]
    assert rows(registry, samples.ANN, "token", "active") == [token(None, "true")]
    assert rows(registry, samples.ANN, "token", "identifier") == [token(samples.MRN, "123", "medical record number")]
    assert rows(registry, samples.ANN, "token", "identifier:of-type") == [
        token("http://terminology.hl7.org/CodeSystem/v2-0203", "MR|123")]
    assert rows(registry, samples.ANN, "token", "email") == [token("email", "ann@example.org")]
    assert len(rows(registry, samples.ANN, "token", "telecom")) == 2
    assert rows(registry, samples.ANN, "token", "_tag") == [token("http://example.org/tags", "import")]


def test_codeable_concept_gives_a_row_per_coding_and_one_for_its_text(registry: SearchRegistry) -> None:
    assert rows(registry, samples.WEIGHT_ANN, "token", "code") == [
        {"system": samples.LOINC, "code": "29463-7", "text_norm": "body weight"},
        {"system": None, "code": None, "text_norm": "weight"},
    ]


def test_choice_types_resolve_per_parameter(registry: SearchRegistry) -> None:
    # value[x] as CodeableConcept feeds value-concept, not value-quantity
    assert rows(registry, samples.SMOKING_CHLOE, "token", "value-concept")[0]["code"] == "8517006"
    assert rows(registry, samples.SMOKING_CHLOE, "quantity", "value-quantity") == []
    # value-string takes (value as string) and (value as CodeableConcept).text
    assert [row["value_exact"] for row in rows(registry, samples.SMOKING_CHLOE, "string", "value-string")] == [
        "Former smoker"]
    assert [row["value_exact"] for row in rows(registry, samples.ABOUT_GONE, "string", "value-string")] == ["no value"]


def test_deceased_boolean_expression(registry: SearchRegistry) -> None:
    assert rows(registry, samples.ANN, "token", "deceased")[0]["code"] == "false"
    assert rows(registry, samples.BOB, "token", "deceased")[0]["code"] == "true"
    assert rows(registry, samples.CHLOE, "token", "deceased")[0]["code"] == "false"
    assert rows(registry, samples.BOB, "date", "death-date") == [
        dict(zip(("low", "high"), parse_date_range("2020-01-01T10:00:00Z"), strict=True))]


def test_dates_index_their_precision_range(registry: SearchRegistry) -> None:
    low, high = parse_date_range("1980-06")
    assert rows(registry, samples.BOB, "date", "birthdate") == [{"low": low, "high": high}]
    low, _ = parse_date_range("2024-03-05T08:30:00Z")  # +01:00 taken to UTC
    assert rows(registry, samples.WEIGHT_ANN, "date", "date")[0]["low"] == low


def test_periods_span_start_to_end_and_stay_open(registry: SearchRegistry) -> None:
    assert rows(registry, samples.SMOKING_CHLOE, "date", "date") == [
        {"low": parse_date_range("2020-01")[0], "high": parse_date_range("2022-06")[1]}]
    assert rows(registry, samples.STAY, "date", "date") == [
        {"low": parse_date_range("2024-04-01")[0], "high": MAX_INSTANT}]


def test_timing_uses_events_and_bounds(registry: SearchRegistry) -> None:
    plan = loads("""{"resourceType": "CarePlan", "id": "c", "status": "active", "intent": "plan",
      "subject": {"reference": "Patient/p1"},
      "activity": [{"detail": {"status": "scheduled", "scheduledTiming": {
          "event": ["2024-05-02", "2024-05-01T08:00:00Z"],
          "repeat": {"boundsPeriod": {"start": "2024-04-30", "end": "2024-05-03"}}}}}]}""")
    assert rows(registry, plan, "date", "activity-date") == [
        {"low": parse_date_range("2024-04-30")[0], "high": parse_date_range("2024-05-03")[1]}]
    # MedicationRequest.date is Timing.event: one row per event
    request = loads("""{"resourceType": "MedicationRequest", "id": "m", "status": "active", "intent": "order",
      "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "x"},
      "dosageInstruction": [{"timing": {"event": ["2024-05-02", "2024-05-01T08:00:00Z"]}}]}""")
    assert rows(registry, request, "date", "date") == [
        dict(zip(("low", "high"), parse_date_range("2024-05-02"), strict=True)),
        dict(zip(("low", "high"), parse_date_range("2024-05-01T08:00:00Z"), strict=True))]


def test_quantities_keep_unit_and_precision(registry: SearchRegistry) -> None:
    [row] = rows(registry, samples.WEIGHT_ANN, "quantity", "value-quantity")
    assert row["value"] == 72.5 and row["low"] == pytest.approx(72.495) and row["high"] == pytest.approx(72.505)
    assert (row["system"], row["code"], row["unit"]) == (samples.UCUM, "kg", "kg")
    [row] = rows(registry, samples.WEIGHT_BOB, "quantity", "value-quantity")
    assert (row["low"], row["high"]) == (89.5, 90.5)
    assert rows(registry, samples.VISIT, "quantity", "length")[0]["code"] == "h"


def test_ranges_and_money_as_quantities(registry: SearchRegistry) -> None:
    condition = loads("""{"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p1"},
      "onsetRange": {"low": {"value": 10, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}},
      "abatementAge": {"value": 12, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}}""")
    [onset] = rows(registry, condition, "quantity", "onset-age")
    assert (onset["value"], onset["low"], onset["high"], onset["code"]) == (10.0, 10.0, MAX_NUMBER, "a")
    assert rows(registry, condition, "quantity", "abatement-age")[0]["value"] == 12.0
    claim = loads("""{"resourceType": "Invoice", "id": "i", "status": "issued",
      "totalGross": {"value": 99.90, "currency": "CHF"}}""")
    [gross] = rows(registry, claim, "quantity", "totalgross")
    assert (gross["value"], gross["system"], gross["code"]) == (99.9, "urn:iso:std:iso:4217", "CHF")


def test_numbers(registry: SearchRegistry) -> None:
    [row] = rows(registry, samples.RISK_ANN, "number", "probability")
    assert row["value"] == 0.25 and row["low"] == pytest.approx(0.245) and row["high"] == pytest.approx(0.255)


def test_references_relative_versioned_absolute_and_identifier(registry: SearchRegistry) -> None:
    def ref(target_type: str | None, target_id: str | None, version: str | None = None,
            url: str | None = None) -> dict[str, Any]:
        return {"target_type": target_type, "target_id": target_id, "target_version": version, "url": url}

    assert rows(registry, samples.WEIGHT_ANN, "reference", "subject") == [ref("Patient", "p1")]
    assert rows(registry, samples.HBA1C_ANN, "reference", "subject") == [ref("Patient", "p1", "1")]
    assert rows(registry, samples.CHLOE, "reference", "organization") == [
        ref(None, None, url="http://other.example/fhir/Organization/x9")]
    assert rows(registry, samples.SMOKING_CHLOE, "token", "subject:identifier") == [
        {"system": "http://other.example/ids", "code": "123", "text_norm": None}]


def test_resolve_is_type_keeps_only_that_target_type(registry: SearchRegistry) -> None:
    assert rows(registry, samples.WEIGHT_ANN, "reference", "patient") == rows(
        registry, samples.WEIGHT_ANN, "reference", "subject")
    assert rows(registry, samples.WEIGHT_GROUP, "reference", "patient") == []
    assert rows(registry, samples.WEIGHT_GROUP, "reference", "subject")[0]["target_type"] == "Group"


def test_contained_references_are_not_indexed(registry: SearchRegistry) -> None:
    observation = loads("""{"resourceType": "Observation", "id": "x", "status": "final", "code": {"text": "t"},
      "contained": [{"resourceType": "Patient", "id": "c1", "name": [{"family": "Hidden"}]}],
      "subject": {"reference": "#c1"}}""")
    assert rows(registry, observation, "reference", "subject") == []
    assert extract(registry, observation)["string"] == []  # contained names are not the container's


def test_canonical_and_uri_parameters(registry: SearchRegistry) -> None:
    questionnaire_response = loads("""{"resourceType": "QuestionnaireResponse", "id": "q", "status": "completed",
      "questionnaire": "http://example.org/Questionnaire/phq9|2.0"}""")
    assert rows(registry, questionnaire_response, "reference", "questionnaire") == [
        {"target_type": None, "target_id": None, "target_version": "2.0",
         "url": "http://example.org/Questionnaire/phq9"}]
    assert rows(registry, samples.WEIGHT_ANN, "uri", "_profile") == [{"value": samples.VITALS}]
    value_set = loads("""{"resourceType": "ValueSet", "id": "v", "status": "active", "url": "http://example.org/vs"}""")
    assert rows(registry, value_set, "uri", "url") == [{"value": "http://example.org/vs"}]


def test_id_and_last_updated_are_not_index_rows(registry: SearchRegistry) -> None:
    result = extract(registry, samples.ANN)
    assert not any(row["param"] in ("_id", "_lastUpdated") for kind_rows in result.values() for row in kind_rows)


def test_duplicate_values_are_indexed_once(registry: SearchRegistry) -> None:
    patient = loads("""{"resourceType": "Patient", "id": "d", "name": [{"given": ["Ann"]}, {"given": ["Ann"]}]}""")
    assert rows(registry, patient, "string", "given") == [{"value_norm": "ann", "value_exact": "Ann"}]


def test_custom_parameter_on_an_extension() -> None:
    registry = SearchRegistry.from_definitions([])
    registry.register({"url": "http://example.org/sp/birthplace", "code": "birthplace", "type": "string",
                       "base": ["Patient"],
                       "expression": "Patient.extension.where(url='http://example.org/birthplace').value"})
    patient = loads("""{"resourceType": "Patient", "id": "x", "extension": [
      {"url": "http://example.org/birthplace", "valueAddress": {"city": "Genève"}},
      {"url": "http://example.org/other", "valueString": "ignored"}]}""")
    assert rows(registry, patient, "string", "birthplace") == [{"value_norm": "geneve", "value_exact": "Genève"}]


def test_fhirpath_fallback_and_cache_follow_registry_changes() -> None:
    registry = SearchRegistry.from_definitions([])
    registry.register({"url": "u1", "code": "nick", "type": "string", "base": ["Patient"],
                       "expression": "Patient.name.given.first()"})  # not a plain path: fhirpathpy
    patient = loads("""{"resourceType": "Patient", "id": "x", "name": [{"given": ["Ann", "Marie"]}]}""")
    assert [row["value_norm"] for row in extract(registry, patient)["string"]] == ["ann"]
    registry.register({"url": "u1", "code": "nick", "type": "string", "base": ["Patient"],
                       "expression": "Patient.name.given.last()"})
    assert [row["value_norm"] for row in extract(registry, patient)["string"]] == ["marie"]


def test_unknown_resource_type_gives_no_rows(registry: SearchRegistry) -> None:
    assert all(not kind_rows for kind_rows in extract(registry, {"resourceType": "Nope"}).values())
    assert all(not kind_rows for kind_rows in extract(registry, {}).values())


def _sparse_instances() -> list[dict[str, Any]]:
    """Every resource type filled in (`InstanceBuilder`), then thinned out at random: resources that
    have some top-level elements and lack others, as real ones do."""
    import random

    from resources import RESOURCE_TYPES
    from tests.resources.r4_instances import InstanceBuilder

    builder, rng, out = InstanceBuilder(), random.Random(7), []
    for resource_type in sorted(RESOURCE_TYPES):
        full = builder.resource(resource_type)
        out.append(full)
        for _ in range(4):
            out.append({key: value for key, value in full.items()
                        if key in ("resourceType", "id") or rng.random() < 0.4})
    return out


def test_the_shortcuts_of_extraction_change_no_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parameter (or composite) whose leading keys a resource lacks is not evaluated at all, and an
    element several parameters read is indexed once (`IndexOnce`); the rows are exactly those of
    evaluating and indexing every expression on its own."""
    import sys

    from fhir_server.search import composites, indexers

    extract_module = sys.modules["fhir_server.search.extract"]  # the package exports the function by that name
    instances = _sparse_instances()
    shortcut = SearchRegistry.from_definitions()
    shortcut_rows = [extract(shortcut, resource) for resource in instances]
    monkeypatch.setattr(extract_module, "expression_keys", lambda resource_type, expression: None)
    monkeypatch.setattr(composites, "_needs", lambda resource_type, expression, components: None)
    monkeypatch.setattr(indexers.IndexOnce, "__call__",
                        lambda self, kind, values: list(indexers.INDEXERS[kind](values)))
    plain = SearchRegistry.from_definitions()
    assert [extract(plain, resource) for resource in instances] == shortcut_rows
    assert sum(len(rows) for found in shortcut_rows for rows in found.values()) > 5_000


def test_a_composite_that_is_the_union_of_others_has_no_rows_of_its_own(registry: SearchRegistry) -> None:
    """combo-code-value-quantity (`Observation | Observation.component`) is searched through
    code-value-quantity and component-code-value-quantity, whose rows hold the same values."""
    combo = registry.get("Observation", "combo-code-value-quantity")
    assert combo is not None and [p.code for p in combo.union_of] == ["code-value-quantity",
                                                                      "component-code-value-quantity"]
    assert registry.get("Observation", "code-value-quantity").union_of == ()
    observation = loads("""{"resourceType": "Observation", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
      "valueQuantity": {"value": 1, "unit": "x", "system": "http://unitsofmeasure.org", "code": "1"},
      "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                     "valueQuantity": {"value": 150, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}""")
    params = {row["param"] for kind_rows in extract(registry, observation).values() for row in kind_rows}
    assert {"component-code-value-quantity$0", "component-code-value-quantity$1"} <= params
    assert not {param for param in params if param.startswith(("combo-code-value-quantity", "combo-code-value-concept"))}


def test_a_composite_of_the_resource_made_of_plain_parameters_has_no_rows_of_its_own(registry: SearchRegistry) -> None:
    """code-value-quantity (element `Observation`, components `code` and `value.as(Quantity)`) selects
    the values of code and value-quantity (`(Observation.value as Quantity) | (Observation.value as
    SampledData)`: a SampledData gives no quantity row); code-value-string does not: value-string also
    reads a CodeableConcept's text."""
    quantity = registry.get("Observation", "code-value-quantity")
    assert quantity is not None and [p.code for p in quantity.component_params] == ["code", "value-quantity"]
    concept = registry.get("Observation", "code-value-concept")
    assert concept is not None and [p.code for p in concept.component_params] == ["code", "value-concept"]
    for code in ("code-value-string", "code-value-date", "component-code-value-quantity"):
        assert registry.get("Observation", code).component_params == (), code
    observation = loads("""{"resourceType": "Observation", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}], "text": "Glucose"},
      "valueQuantity": {"value": 6.3, "system": "http://unitsofmeasure.org", "code": "mmol/L"}}""")
    rows = extract(registry, observation)
    params = {row["param"] for kind_rows in rows.values() for row in kind_rows}
    assert {"code", "value-quantity"} <= params
    assert not {param for param in params if param.startswith(("code-value-quantity", "code-value-concept"))}


def test_a_component_selecting_less_than_the_plain_parameter_keeps_its_rows() -> None:
    """A custom composite of the resource whose value component reads fewer types than any plain
    parameter (only a valueRange, where value-quantity reads a valueQuantity) is indexed per element."""
    registry = SearchRegistry.from_definitions()
    quantity = registry.get("Observation", "code-value-quantity")
    assert quantity is not None
    registry.register({"resourceType": "SearchParameter", "url": "http://example.org/sp/code-range",
                       "code": "code-range", "base": ["Observation"], "type": "composite", "expression": "Observation",
                       "component": [{"definition": quantity.components[0].definition, "expression": "code"},
                                     {"definition": quantity.components[1].definition,
                                      "expression": "value.as(Range)"}]})
    assert registry.get("Observation", "code-range").component_params == ()
    observation = loads("""{"resourceType": "Observation", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
      "valueRange": {"low": {"value": 4, "system": "http://unitsofmeasure.org", "code": "mmol/L"}}}""")
    params = {row["param"] for kind_rows in extract(registry, observation).values() for row in kind_rows}
    assert {"code-range$0", "code-range$1"} <= params


def test_a_custom_composite_over_the_same_elements_is_a_union_too() -> None:
    """Found from the definitions, not from a list: a new SearchParameter shaped the same way is one."""
    registry = SearchRegistry.from_definitions()
    combo = registry.get("Observation", "combo-code-value-quantity")
    assert combo is not None
    registry.register({"resourceType": "SearchParameter", "url": "http://example.org/sp/both", "code": "both",
                       "base": ["Observation"], "type": "composite", "expression": "Observation.component | Observation",
                       "component": [{"definition": c.definition, "expression": c.expression} for c in combo.components]})
    both = registry.get("Observation", "both")
    assert both is not None and {p.code for p in both.union_of} == {"code-value-quantity", "component-code-value-quantity"}
