"""Index extraction of composites (correlated per element), `_text`/`_content` words and UCUM canonical
quantities; the compartment criterion and what the CapabilityStatement lists."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_server.errors import BadRequest
from fhir_server.search import SearchRegistry, extract
from fhir_server.search.capabilities import served_includes, served_params
from fhir_server.search.compartments import compartment
from fhir_server.search.content import MAX_WORDS, content_words, text_words
from fhir_server.search.quantities import canonical_columns, to_canonical
from fhir_server.search.query import QuantityValue
from fhir_server.search.refusals import NotSupported
from resources.fhir_json import loads

UCUM = "http://unitsofmeasure.org"

PRESSURE = loads("""{"resourceType": "Observation", "id": "bp", "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
  "component": [
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
     "valueQuantity": {"value": 150, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
     "valueQuantity": {"value": 95, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}""")


def _component_rows(registry: SearchRegistry, resource: dict, code: str) -> list[tuple[str, int, object]]:
    rows = extract(registry, resource)
    found = [(row["param"], row["element"], row["code"] if kind == "token" else row["value"])
             for kind in ("token", "quantity") for row in rows[kind] if row["param"].startswith(code + "$")]
    return sorted(found, key=lambda item: (item[1], item[0]))


def test_composite_components_share_their_elements_number(registry: SearchRegistry) -> None:
    assert _component_rows(registry, PRESSURE, "component-code-value-quantity") == [
        ("component-code-value-quantity$0", 0, "8480-6"), ("component-code-value-quantity$1", 0, 150.0),
        ("component-code-value-quantity$0", 1, "8462-4"), ("component-code-value-quantity$1", 1, 95.0),
    ]
    # the Observation itself has no value: code-value-quantity has no element with both components
    assert _component_rows(registry, PRESSURE, "code-value-quantity") == []
    plain = [row for row in extract(registry, PRESSURE)["token"] if row["param"] == "code"]
    assert plain and all("element" not in row for row in plain)


def test_composite_components_may_read_the_resource(registry: SearchRegistry) -> None:
    sequence = loads("""{"resourceType": "MolecularSequence", "id": "s", "coordinateSystem": 0,
      "referenceSeq": {"chromosome": {"coding": [{"code": "1"}]}},
      "variant": [{"start": 10, "end": 20}, {"start": 30, "end": 40}]}""")
    rows = extract(registry, sequence)
    chromosome = [row["element"] for row in rows["token"] if row["param"] == "chromosome-variant-coordinate$0"]
    starts = [(row["element"], row["value"]) for row in rows["number"] if row["param"] == "chromosome-variant-coordinate$1"]
    assert chromosome == [0, 1] and starts == [(0, 10.0), (1, 30.0)]


def test_text_and_content_words() -> None:
    patient = loads("""{"resourceType": "Patient", "id": "p", "meta": {"tag": [{"code": "secret"}]},
      "text": {"status": "generated", "div": "<div xmlns=\\"http://www.w3.org/1999/xhtml\\"><b>Adaeze</b> &amp; diabetes</div>"},
      "identifier": [{"system": "http://hospital/mrn", "value": "MRN-1"}],
      "name": [{"family": "Okafor-Ngozi"}], "birthDate": "1984-03-12",
      "generalPractitioner": [{"reference": "Practitioner/x", "display": "Dr Mensah"}]}""")
    assert text_words(patient) == ["adaeze", "diabetes"]
    words = content_words(patient)
    assert {"okafor", "ngozi", "mensah", "mrn", "adaeze", "diabetes"} <= set(words)
    assert not {"secret", "practitioner", "http", "1984", "generated"} & set(words) - {"generated"}
    many = {"resourceType": "Basic", "id": "b", "code": {"text": " ".join(f"w{n}" for n in range(500))}}
    assert len(content_words(many)) == MAX_WORDS


def test_content_words_are_read_past_the_first_texts_in_order() -> None:
    """Texts are normalised a few thousand characters at a time: words come in document order across
    those chunks, accents fold as in a single text, and the first MAX_WORDS distinct words are kept."""
    repeated = [{"text": "same words again"} for _ in range(400)]  # well over one chunk, three words
    later = [{"text": f"Müller-{n} Ĳssel"} for n in range(100)]
    basic = {"resourceType": "Basic", "id": "b", "note": [*repeated, *later]}
    words = content_words(basic)
    assert words[:6] == ["same", "words", "again", "muller", "ijssel", "10"]
    assert len(words) == MAX_WORDS and words[-1] == str(MAX_WORDS - 5 + 9)


def test_quantities_are_indexed_and_searched_in_canonical_units() -> None:
    assert canonical_columns({"value": 5400, "system": UCUM, "code": "umol/L"}) == (5.4, "m-3.mol")
    assert canonical_columns({"value": Decimal("5.4"), "system": UCUM, "code": "mmol/L"}) == (5.4, "m-3.mol")
    assert canonical_columns({"value": 5, "system": "http://other", "code": "mmol/L"}) is None
    assert canonical_columns({"value": 5, "system": UCUM, "code": "not-a-unit"}) is None
    value = QuantityValue("ap", Decimal(100), 99.5, 100.5, UCUM, "[degF]")
    found = to_canonical(value)
    assert found is not None and found.code == "K"
    assert found.low == pytest.approx(305.372, abs=0.01) and found.high == pytest.approx(316.483, abs=0.01)
    assert to_canonical(QuantityValue("eq", Decimal(1), 0.5, 1.5, None, "mg")) is None


def test_compartment_members(registry: SearchRegistry) -> None:
    node = compartment(registry, "Patient", "p1", ["Observation", "Patient"])
    assert dict(node.members) == {"Observation": ("subject", "performer"), "Patient": ("link",)}
    everything = compartment(registry, "Patient", "p1", None)
    assert len(everything.members) > 50 and "Medication" not in dict(everything.members)
    with pytest.raises(BadRequest, match="Medication"):
        compartment(registry, "Patient", "p1", ["Medication"])
    with pytest.raises(NotSupported):
        compartment(registry, "Encounter", "e1", ["Observation"])


def test_served_parameters_and_includes(registry: SearchRegistry) -> None:
    location = {param.code for param in served_params(registry, "Location")}
    assert "near" not in location and {"address", "_id", "_text", "_list"} <= location
    observation = {param.code: param for param in served_params(registry, "Observation")}
    assert observation["code-value-quantity"].type == "composite"
    includes, revincludes = served_includes(registry)
    assert "Observation:subject" in includes["Observation"] and "*" in includes["Observation"]
    assert "Observation:subject" in revincludes["Patient"] and "Encounter:subject" in revincludes["Group"]
