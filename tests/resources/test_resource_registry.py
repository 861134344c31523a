"""The type registry and the vendored definition files it is built from."""

from __future__ import annotations

import gzip
from importlib import resources as importlib_resources

from resources import RESOURCE_TYPES, is_resource_type
from resources.definitions import required_value_sets, structure_definitions
from resources.registry import (
    DATA_TYPES,
    DOMAIN_RESOURCE_TYPES,
    PRIMITIVE_TYPES,
    base_type,
    is_domain_resource,
)


def test_all_146_r4_resource_types() -> None:
    assert len(RESOURCE_TYPES) == 146
    assert {"MedicinalProduct", "EffectEvidenceSynthesis", "RiskEvidenceSynthesis", "SubstanceNucleicAcid"} <= RESOURCE_TYPES
    assert "SubscriptionStatus" not in RESOURCE_TYPES  # R4B, not R4
    assert not {"Resource", "DomainResource", "MetadataResource"} & RESOURCE_TYPES
    assert is_resource_type("Patient") and not is_resource_type("patient") and not is_resource_type(None)


def test_domain_resources_and_bases() -> None:
    assert {"Bundle", "Binary", "Parameters"} == RESOURCE_TYPES - DOMAIN_RESOURCE_TYPES
    assert is_domain_resource("Observation") and not is_domain_resource("Bundle")
    assert base_type("Patient") == "DomainResource" and base_type("DomainResource") == "Resource"
    assert base_type("Resource") is None and base_type("SimpleQuantity") == "Quantity"


def test_data_and_primitive_types() -> None:
    assert len(PRIMITIVE_TYPES) == 20 and "xhtml" in PRIMITIVE_TYPES
    assert {"Quantity", "SimpleQuantity", "CodeableConcept", "Reference", "Meta", "Dosage"} <= DATA_TYPES


def test_compiled_tables_are_r4_not_the_later_snapshots() -> None:
    types = structure_definitions()["types"]
    paths = {row[0] for row in types["ResearchStudy"]["elements"]}
    assert "objective.name" in paths and not {"label", "studyDesign", "associatedParty"} & paths
    evidence_variable = {row[0] for row in types["EvidenceVariable"]["elements"]}
    assert "characteristic.definition[x]" in evidence_variable and "characteristic.timeFromEvent" not in evidence_variable
    assert {row[0] for row in types["Meta"]["elements"]} == {
        "id", "extension", "versionId", "lastUpdated", "source", "profile", "security", "tag"}
    status = next(row for row in types["DetectedIssue"]["elements"] if row[0] == "status")
    assert status[5] == "http://hl7.org/fhir/ValueSet/observation-status"


def test_required_value_sets() -> None:
    value_sets = required_value_sets()
    assert value_sets["http://hl7.org/fhir/ValueSet/administrative-gender"] == {
        "http://hl7.org/fhir/administrative-gender": ["female", "male", "other", "unknown"]}
    assert "http://hl7.org/fhir/ValueSet/mimetypes" not in value_sets  # needs an outside terminology


def test_vendored_files_are_small_and_reproducible() -> None:
    for name in ("structure-definitions.json.gz", "required-value-sets.json.gz"):
        raw = importlib_resources.files("resources.definitions").joinpath(name).read_bytes()
        assert len(raw) < 200_000
        assert raw[4:8] == b"\0\0\0\0"  # gzip mtime 0: the same bytes on every run
        gzip.decompress(raw)
