"""ORU^R01 → transaction Bundle: the IG's own test message (16), corrections, cancellations, reuse."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hl7_gateway import ContentError, MappingError, map_message, parse_message
from resources import validate
from tests.hl7_gateway.conftest import entry_of, resources_of, sample

IG_ORU = sample("16_v2tofhir")


def mapped(raw: bytes) -> dict[str, Any]:
    result = map_message(parse_message(raw))
    assert validate(result.bundle) == [], validate(result.bundle)[:3]
    return result.bundle


def test_ig_oru_r01_maps_to_a_valid_transaction() -> None:
    bundle = mapped(IG_ORU)
    assert bundle["type"] == "transaction"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Observation") == 3 and kinds.count("DiagnosticReport") == 1
    assert {"Patient", "Encounter", "ServiceRequest", "Specimen", "Practitioner", "Provenance"} <= set(kinds)
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])


def test_patient_from_pid() -> None:
    entry = entry_of(mapped(IG_ORU), "Patient")
    patient = entry["resource"]
    mrn = patient["identifier"][0]
    assert (mrn["system"], mrn["value"]) == ("urn:oid:3.4.5.6.7", "1032702")
    assert mrn["type"]["coding"][0]["code"] == "MR" and mrn["assigner"] == {"display": "OrdOrg"}
    assert entry["request"] == {"method": "POST", "url": "Patient",
                                "ifNoneExist": "identifier=urn:oid:3.4.5.6.7|1032702"}
    assert patient["gender"] == "female" and patient["birthDate"] == "1970-06-01"
    assert patient["_birthDate"]["extension"][0]["valueDateTime"] == "1970-06-01T09:12:00+00:00"
    official, maiden = patient["name"]
    assert (official["use"], official["family"], official["given"], official["prefix"]) == (
        "official", "Everywoman", ["Eve", "L"], ["Dr"])
    assert maiden["use"] == "maiden" and maiden["period"] == {"start": "1970-06-01", "end": "2000-09-08"}
    assert {"system": "email", "value": "eve@test.test", "use": "home"} in patient["telecom"]
    assert {"system": "phone", "value": "+1 555 555-1126 X12", "use": "work"} in patient["telecom"]
    assert patient["address"][0]["line"] == ["1000 House Lane", "Appt 123"]
    assert patient["address"][0]["use"] == "home"


def test_observations() -> None:
    bundle = mapped(IG_ORU)
    first, second, third = resources_of(bundle, "Observation")
    assert first["status"] == "final"
    assert first["code"]["coding"] == [{"system": "http://loinc.org", "code": "6153-1",
                                        "display": "IgE Blue Grass Kentucky"}]
    assert first["valueQuantity"] == {"value": Decimal("3.9"), "unit": "kU/L", "system": "http://unitsofmeasure.org",
                                      "code": "kU/L"}
    assert isinstance(first["valueQuantity"]["value"], Decimal)
    assert first["interpretation"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "A",
        "display": "Abnormal"}
    assert first["referenceRange"] == [{"text": "<0.10"}]
    assert first["effectiveDateTime"] == "2015-06-01T16:08:00+00:00"
    assert first["performer"][0]["display"] == "Test Observer"
    assert str(second["valueQuantity"]["value"]) == "0.59"
    # '<0.10' sent as SN without component separators: read as comparator and number
    assert third["valueQuantity"]["comparator"] == "<" and str(third["valueQuantity"]["value"]) == "0.10"
    report = entry_of(bundle, "DiagnosticReport")["resource"]
    assert [r["reference"] for r in report["result"]] == [
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


def test_stable_identifiers_and_conditional_requests() -> None:
    bundle = mapped(IG_ORU)
    observations = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert observations[0]["request"] == {
        "method": "PUT", "url": "Observation?identifier=urn:oid:8.7.6.4|LAB4432/LN/6153-1/1"}
    report = entry_of(bundle, "DiagnosticReport")
    assert report["request"] == {"method": "PUT", "url": "DiagnosticReport?identifier=urn:oid:8.7.6.4|LAB4432"}
    request = entry_of(bundle, "ServiceRequest")
    assert request["request"]["ifNoneExist"] == "identifier=urn:oid:8.7.6.4|LAB4432"
    assert request["resource"]["status"] == "completed" and request["resource"]["intent"] == "order"
    assert request["resource"]["note"][0]["text"] == "Allergy test interpretations are subjective."
    # the same message maps to the same bundle: refiling it is idempotent
    assert mapped(IG_ORU) == bundle


def test_second_result_for_the_same_patient_reuses_the_patient() -> None:
    other = IG_ORU.replace(b"20251014154001-425", b"SECOND-1").replace(b"LAB4432", b"LAB9999")
    first, second = mapped(IG_ORU), mapped(other)
    assert entry_of(first, "Patient")["request"] == entry_of(second, "Patient")["request"]
    assert entry_of(first, "DiagnosticReport")["request"] != entry_of(second, "DiagnosticReport")["request"]


def test_corrected_result_updates_the_same_observation_and_report() -> None:
    corrected = (IG_ORU.replace(b"20251014154001-425", b"CORRECTION-1")
                 .replace(b"|3.9|kU/L|", b"|4.2|kU/L|").replace(b"|F|||201506011608|Central", b"|C|||201506011608|Central")
                 .replace(b"|||F||1^^^20150601^^R|", b"|||C||1^^^20150601^^R|"))
    original, correction = mapped(IG_ORU), mapped(corrected)
    first, fixed = resources_of(original, "Observation")[0], resources_of(correction, "Observation")[0]
    assert fixed["status"] == "corrected" and str(fixed["valueQuantity"]["value"]) == "4.2"
    assert fixed["identifier"] == first["identifier"]
    assert entry_of(correction, "DiagnosticReport")["resource"]["status"] == "corrected"
    urls = [e["request"]["url"] for e in correction["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert urls == [e["request"]["url"] for e in original["entry"] if e["resource"]["resourceType"] == "Observation"]


@pytest.mark.parametrize("obx11, status", [("X", "cancelled"), ("D", "entered-in-error"), ("W", "entered-in-error"),
                                           ("P", "preliminary"), ("I", "registered"), ("R", "preliminary"),
                                           ("B", "amended"), ("V", "final"), ("S", "preliminary"), ("O", "registered")])
def test_result_status_codes_including_those_the_ig_leaves_open(obx11: str, status: str) -> None:
    raw = IG_ORU.replace(b"|F|||201506011608|CentralLab^Central Laboratory^HL70624|1234^Observer^Test^^^^^^LabFac&8.7.6.5.4&&ISO|||201506011605|",
                         b"|" + obx11.encode() + b"|||201506011608|CentralLab^Central Laboratory^HL70624|1234^Observer^Test^^^^^^LabFac&8.7.6.5.4&&ISO|||201506011605|", 1)
    assert resources_of(mapped(raw), "Observation")[0]["status"] == status


def test_final_without_retransmitted_value_patches_only_the_status() -> None:
    raw = IG_ORU.replace(b"|1|3.9|kU/L|<0.10|A^Abnormal^HL70078||N^None - generic normal range^HL70080|F|",
                         b"|1||kU/L|<0.10|A^Abnormal^HL70078||N^None - generic normal range^HL70080|U|")
    bundle = mapped(raw)
    patches = [e for e in bundle["entry"] if e["request"]["method"] == "PATCH"]
    assert len(patches) == 1 and patches[0]["request"]["url"].startswith("Observation?identifier=")
    assert patches[0]["resource"]["contentType"] == "application/json-patch+json"
    assert len(resources_of(bundle, "Observation")) == 2


@pytest.mark.parametrize("obr25, status", [("F", "final"), ("P", "preliminary"), ("C", "corrected"), ("X", "cancelled"),
                                           ("A", "partial"), ("R", "partial"), ("I", "registered"), ("M", "partial")])
def test_report_status_from_obr_25(obr25: str, status: str) -> None:
    raw = IG_ORU.replace(b"|||F||1^^^20150601^^R|", b"|||" + obr25.encode() + b"||1^^^20150601^^R|")
    assert entry_of(mapped(raw), "DiagnosticReport")["resource"]["status"] == status


@pytest.mark.parametrize("change, code, location", [
    ((b"|||F||1^^^20150601^^R|", b"|||||1^^^20150601^^R|"), 101, "OBR-25.1"),
    ((b"|||F||1^^^20150601^^R|", b"|||Y||1^^^20150601^^R|"), 204, "OBR-25.1"),
    ((b"|||F||1^^^20150601^^R|", b"|||Q||1^^^20150601^^R|"), 103, "OBR-25.1"),
    ((b"OBX|2|NM|", b"OBX|2|FN|"), 103, "OBX[2]-2.1"),
    ((b"|2|0.59|", b"|2|0.5.9|"), 102, "OBX[2]-5"),
    ((b"6041-8^IgE Bermuda Grass^LN", b""), 101, "OBX[2]-3.1"),
    ((b"|F|||201506011608|CentralLab", b"|Q|||201506011608|CentralLab"), 103, "OBX-11.1"),
    ((b"1032702^^^OrdOrg&3.4.5.6.7&ISO^MR^OrdFac&2.3.4.5.6&ISO^20190101^20290101", b""), 101, "PID-3.1"),
    ((b"51523-9^Grass Pollen Mix^LN|R|", b"|R|"), 101, "OBR-4.1"),
])
def test_content_errors_name_segment_and_field(change: tuple[bytes, bytes], code: int, location: str) -> None:
    with pytest.raises(ContentError) as raised:
        map_message(parse_message(IG_ORU.replace(*change, 1)))
    assert raised.value.code == code and str(raised.value.location) == location
    assert raised.value.ack_code == "AE"


def test_unreadable_optional_fields_are_dropped_with_warnings() -> None:
    raw = IG_ORU.replace(b"|197006010912|F|", b"|19700631|Q|")
    result = map_message(parse_message(raw))
    patient = resources_of(result.bundle, "Patient")[0]
    assert "birthDate" not in patient and "gender" not in patient
    assert {str(w.location) for w in result.warnings} == {"PID-7.1", "PID-8.1", "OBX[3]-5"}
    assert all(w.severity == "W" for w in result.warnings)


def test_provenance_points_at_the_source_message() -> None:
    bundle = mapped(IG_ORU)
    entry = entry_of(bundle, "Provenance")
    provenance = entry["resource"]
    assert entry["request"] == {"method": "PUT", "url": f"Provenance/{provenance['id']}"}
    what = provenance["entity"][0]["what"]
    assert what["identifier"]["value"] == "20251014154001-425"
    assert "LabApp" in what["identifier"]["system"] and "LabFac" in what["identifier"]["system"]
    assert provenance["recorded"] == "2015-06-02T10:00:12.43+01:00"
    assert provenance["activity"]["coding"][0]["display"] == "message - ORU^R01^ORU_R01"
    targets = {t["reference"] for t in provenance["target"]}
    assert targets == {e["fullUrl"] for e in bundle["entry"] if e is not entry}


def test_python_hl7_sample_is_refused_for_its_defects() -> None:
    # OBX-3.3 carries a LOINC long name where the coding system belongs (and OBX[2]-2 says 'FN')
    with pytest.raises(MappingError) as raised:
        map_message(parse_message(sample("01_python-hl7")))
    assert raised.value.code == 103 and str(raised.value.location) == "OBX-3.3"


def test_oru_without_patient_or_result() -> None:
    with pytest.raises(ContentError, match="without OBR"):
        map_message(parse_message(sample("06_python-hl7")))
