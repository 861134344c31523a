"""The R4 invariants, evaluated with fhirpathpy (resources.invariants)."""

from __future__ import annotations

import pytest

from resources import validate
from resources.definitions import load
from resources.invariants import KNOWN_BROKEN, InvariantChecker


@pytest.fixture(scope="module")
def check() -> InvariantChecker:
    return InvariantChecker()


def keys(issues) -> set[str]:
    return {i.diagnostics.split(":")[0] for i in issues if i.code == "invariant"}


def test_resource_backbone_and_data_type_invariants(check):
    patient = {"resourceType": "Patient", "contact": [{"gender": "male"}],
               "name": [{"family": "A", "period": {"start": "2020-01-02", "end": "2020-01-01"}}]}
    assert validate(patient) == []
    issues = check(patient)
    assert keys(issues) == {"pat-1", "per-1"}
    by_key = {i.diagnostics.split(":")[0]: i for i in issues}
    assert by_key["pat-1"].expression == "Patient.contact"
    assert by_key["per-1"].expression == "Patient.name[0].period"
    assert all(i.severity == "error" for i in issues)


def test_choice_elements_and_extensions(check):
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "valueString": "x", "dataAbsentReason": {"text": "gone"},
                   "extension": [{"url": "http://example.org/e", "valueString": "v",
                                  "extension": [{"url": "a", "valueString": "b"}]}]}
    assert keys(check(observation)) == {"obs-6", "ext-1"}
    fine = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueString": "x"}
    assert check(fine) == []


def test_contained_and_bundled_resources_are_checked(check):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:0b4c6a5e-2b7e-4e0b-9a37-1c2f0e4d9a11",
         "resource": {"resourceType": "Patient", "contact": [{"gender": "male"}]}}]}
    assert keys(check(bundle)) == {"pat-1"}
    container = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                 "subject": {"reference": "#p"},
                 "contained": [{"resourceType": "Patient", "id": "p", "contact": [{"gender": "male"}]}]}
    assert keys(check(container)) == {"pat-1"}
    # ref-1: a local reference must name a contained resource of the root resource
    dangling = {**container, "contained": [{"resourceType": "Patient", "id": "q"}]}
    assert "ref-1" in keys(check(dangling))


def test_best_practice_only_when_asked():
    patient = {"resourceType": "Patient"}
    assert InvariantChecker()(patient) == []
    assert keys(InvariantChecker(best_practice=True)(patient)) == {"dom-6"}


def test_every_vendored_invariant_compiles_and_the_exceptions_are_explained():
    checker = InvariantChecker(skip=frozenset(), best_practice=True)
    types = load("invariants.json.gz")["types"]
    compiled = {inv.key for name in types for inv in checker.invariants(name)}
    assert len(compiled) > 200
    assert set(KNOWN_BROKEN) <= compiled
    assert all(reason for reason in KNOWN_BROKEN.values())


def test_a_broken_expression_is_reported_not_raised(check):
    # rng-2 is a known-broken invariant and is not evaluated; a Range with low > high stays unchecked
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "valueRange": {"low": {"value": 5}, "high": {"value": 1}}}
    assert check(observation) == []
