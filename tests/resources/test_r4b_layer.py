"""The fhir.resources R4B model layer: where it runs, and that it never refuses valid R4 nor finds more."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from resources import validate
from resources.definitions import structure_definitions
from resources.fhir_json import loads
from resources.r4b_compat import matching_types
from resources.r4b_models import model_issues
from resources.registry import R4B_MODEL_TYPES, RESOURCE_TYPES
from tests.resources.r4_instances import InstanceBuilder

SAMPLES = Path(__file__).parent / "samples"
R4_ONLY = {"MedicinalProduct", "EffectEvidenceSynthesis", "RiskEvidenceSynthesis", "SubstanceNucleicAcid"}


def test_stored_list_is_what_the_comparison_gives_today() -> None:
    data = structure_definitions()
    matching, unsafe, differences = matching_types(data["types"], data["resourceTypes"])
    assert matching == data["r4bModelTypes"]
    assert unsafe == data["r4bUnsafeProperties"]
    assert set(matching) | set(differences) == RESOURCE_TYPES


def test_types_missing_or_changed_in_r4b_are_left_out() -> None:
    assert not R4_ONLY & R4B_MODEL_TYPES
    assert not {"Evidence", "EvidenceVariable", "MedicinalProductIngredient"} & R4B_MODEL_TYPES
    assert {"Patient", "Observation", "Encounter", "DiagnosticReport", "RiskAssessment", "Bundle"} <= R4B_MODEL_TYPES


def test_r4b_catches_what_it_should_when_asked_directly() -> None:
    patient = loads((SAMPLES / "patient.json").read_bytes())
    patient["active"] = "yes"
    assert model_issues(patient) == []  # pydantic's lax mode takes "yes" for true; R4 does not
    assert validate(patient)[0].expression == "Patient.active"
    patient["name"][0]["nickname"] = "Jim"
    issues = model_issues(patient)
    assert issues and issues[0].expression == "Patient.name[0].nickname" and issues[0].code == "invalid"


def test_r4b_is_not_run_on_r4_properties_it_lacks() -> None:
    patient = {"resourceType": "Patient", "extension": [{"url": "http://example.org", "valueMeta": {"versionId": "1"}}]}
    assert model_issues(patient)  # R4B has no Extension.valueMeta ...
    assert validate(patient) == []  # ... so the layer is skipped for this resource
    with_uuid = {"resourceType": "Patient", "extension": [
        {"url": "http://example.org", "valueUuid": "urn:uuid:a8098c1a-f86e-11da-bd1a-00112444be1e"}]}
    assert validate(with_uuid) == []
    nested_r4_only = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": loads((SAMPLES / "substancenucleicacid.json").read_bytes())}]}
    assert validate(nested_r4_only) == []


def _mutations(resource: dict[str, Any], rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Small random damage: a wrong JSON type, a removed or unknown property, a null, an empty string."""
    out = []
    for _ in range(count):
        mutated = copy.deepcopy(resource)
        parent: Any = mutated
        while True:
            keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
            keys = [k for k in keys if k != "resourceType"]
            key = rng.choice(keys)
            child = parent[key]
            if isinstance(child, dict | list) and child and rng.random() < 0.6:
                parent = child
                continue
            break
        action = rng.randrange(5)
        if action == 0:
            parent[key] = rng.choice([1, "x", True, Decimal("1.5"), {}, []])
        elif action == 1 and isinstance(parent, dict):
            del parent[key]
        elif action == 2 and isinstance(parent, dict):
            parent["foo"] = "bar"
        elif action == 3:
            parent[key] = None
        else:
            parent[key] = ""
        out.append(mutated)
    return out


@pytest.mark.parametrize("resource_type", sorted(R4B_MODEL_TYPES))
def test_r4b_finds_nothing_the_r4_validator_misses(resource_type: str) -> None:
    """60 damaged copies of every type the layer runs on (7,260 in all): why writes leave it out unless
    `FHIR_VALIDATION_R4B_MODELS` asks for it."""
    rng = random.Random(resource_type)
    instance = InstanceBuilder().resource(resource_type)
    for mutated in _mutations(instance, rng, 60):
        if not validate(mutated, with_models=False):
            assert model_issues(mutated) == [], mutated
