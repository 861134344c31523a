"""OBX value types against ReportStream's expected FHIR (samples 33-52, expected_fhir/OBX-to-Observation-*).

ReportStream's messages leave PID-3 empty (`PID|1`), which this gateway refuses (AE, code 101: a result
nobody can find the patient of). Each is therefore mapped twice: as sent (AE, checked here), and with
`PID|1||P1^^^LAB^MR` put in its place, to compare the Observation with ReportStream's. Where this
gateway differs on purpose, the test names the difference and why.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hl7_gateway import MappingError, map_message, parse_message
from resources import validate
from tests.hl7_gateway.conftest import expected, resources_of, sample

CASES = {
    "33": "nm-value", "34": "sn-as-quantity-value", "35": "sn-as-range-value", "36": "sn-as-ratio-value-colon",
    "37": "sn-as-ratio-value-division", "38": "sn-as-string-value", "39": "ed-value", "40": "cwe-value",
    "41": "ce-value", "42": "dr-value", "43": "dtm-value", "44": "ft-value", "45": "tx-value", "46": "nr-value",
    "47": "tm-value", "48": "vr-value", "49": "is-value", "50": "data-absent-x-value", "51": "data-absent-n-value",
    "52": "data-absent-st-but-empty-value",
}


def ours(number: str) -> dict[str, Any]:
    raw = sample(f"{number}_reportstream").replace(b"PID|1\r", b"PID|1||P1^^^LAB^MR\r")
    result = map_message(parse_message(raw))
    assert validate(result.bundle) == []
    [observation] = resources_of(result.bundle, "Observation")
    return observation


def theirs(number: str) -> dict[str, Any]:
    [observation] = resources_of(expected(f"OBX-to-Observation-{CASES[number]}.fhir"), "Observation")
    return observation


def strip(value: Any) -> Any:
    """Drop `extension` (ReportStream's own v2 extensions) and `_x` siblings, recursively."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != "extension" and not k.startswith("_")}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


@pytest.mark.parametrize("number", sorted(CASES))
def test_as_sent_the_missing_patient_identifier_is_refused(number: str) -> None:
    with pytest.raises(MappingError) as raised:
        map_message(parse_message(sample(f"{number}_reportstream")))
    assert raised.value.code == 101 and str(raised.value.location) == "PID-3.1"


@pytest.mark.parametrize("number", sorted(set(CASES) - {"39"}))
def test_code_is_the_same(number: str) -> None:
    assert strip(ours(number)["code"]) == strip(theirs(number)["code"])


@pytest.mark.parametrize("number, key", [
    ("40", "valueCodeableConcept"), ("42", "valuePeriod"), ("43", "valueDateTime"), ("44", "valueString"),
    ("45", "valueString"), ("46", "valueRange"), ("48", "valueString"), ("49", "valueCodeableConcept"),
])
def test_values_equal_to_reportstream(number: str, key: str) -> None:
    assert strip(ours(number)[key]) == strip(theirs(number)[key])


@pytest.mark.parametrize("number", ["33", "34", "35", "36", "37", "38", "40", "41", "42", "43", "44", "45", "46",
                                    "47", "48", "49", "50", "52"])
def test_status_equal_to_reportstream(number: str) -> None:
    assert ours(number)["status"] == theirs(number)["status"]


def test_nm_value_with_units_recognised_as_ucum() -> None:
    mine, reference = ours("33")["valueQuantity"], theirs("33")["valueQuantity"]
    assert mine["value"] == reference["value"] == Decimal(5) and mine["unit"] == reference["unit"] == "ML"
    # ReportStream copies the v2 coding (code 1, system METRIC - not a URI); 'ML' is recognisable as UCUM mL
    assert (mine["system"], mine["code"]) == ("http://unitsofmeasure.org", "mL")


def test_sn_quantity_range_and_ratio() -> None:
    quantity = ours("34")["valueQuantity"]
    assert (quantity["comparator"], quantity["value"]) == (theirs("34")["valueQuantity"]["comparator"], Decimal(1))
    # the IG's originalText extension instead of ReportStream's own SN.3/SN.4 extensions
    assert quantity["extension"][0]["valueString"] == "> 1 . 3"
    for number, key, parts in (("35", "valueRange", ("low", "high")), ("36", "valueRatio", ("numerator", "denominator")),
                               ("37", "valueRatio", ("numerator", "denominator"))):
        mine, reference = ours(number)[key], theirs(number)[key]
        for part in parts:
            assert mine[part]["value"] == reference[part]["value"] and mine[part]["unit"] == reference[part]["unit"]


def test_sn_with_plus_is_text_as_the_ig_assigns_it() -> None:
    # IG: OBX-5.1+" "+OBX-5.2+" "+OBX-5.3+" "+OBX-5.4; ReportStream joins with '+' ("-+1+++3")
    assert ours("38")["valueString"] == "- 1 + 3"
    assert theirs("38")["valueString"] == "-+1+++3"


def test_ce_local_code_keeps_code_and_display() -> None:
    coding = ours("41")["valueCodeableConcept"]["coding"][0]
    reference = theirs("41")["valueCodeableConcept"]["coding"][0]
    assert (coding["code"], coding["display"]) == (reference["code"], reference["display"])
    assert "system" not in coding  # 'L' is a local coding system: no URI to give it (ReportStream makes up a URL)


def test_tm_becomes_a_valid_fhir_time() -> None:
    assert theirs("47")["valueTime"] == "223100.0000"  # not a FHIR time (hh:mm:ss)
    assert ours("47")["valueTime"] == "22:31:00"


def test_ed_with_invalid_base64_is_refused() -> None:
    # 'AAAAAAAAA' (9 characters) is not Base64; ReportStream silently drops the value, this gateway answers AE
    raw = sample("39_reportstream").replace(b"PID|1\r", b"PID|1||P1^^^LAB^MR\r")
    with pytest.raises(MappingError) as raised:
        map_message(parse_message(raw))
    assert raised.value.code == 102 and str(raised.value.location) == "OBX-5.5"
    assert "valueString" not in theirs("39") and "extension" not in strip(theirs("39"))


def test_ed_base64_becomes_the_ig_attachment_extension() -> None:
    raw = sample("39_reportstream").replace(b"PID|1\r", b"PID|1||P1^^^LAB^MR\r").replace(b"AAAAAAAAA", b"JVBERi0xLjQK")
    [observation] = resources_of(map_message(parse_message(raw)).bundle, "Observation")
    [extension] = observation["extension"]
    assert extension["url"] == "https://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.valueAttachment"
    assert extension["valueAttachment"] == {"contentType": "image/jpeg", "data": "JVBERi0xLjQK"}


def test_data_absent_reasons() -> None:
    cancelled, not_asked, empty = ours("50"), ours("51"), ours("52")
    assert cancelled["status"] == "cancelled"
    # 'cannot-be-obtained' (ReportStream) is not in R4's data-absent-reason code system; 'not-performed' is
    assert theirs("50")["dataAbsentReason"]["coding"][0]["code"] == "cannot-be-obtained"
    assert cancelled["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert strip(not_asked["dataAbsentReason"]) == strip(theirs("51")["dataAbsentReason"])
    # OBX-11 N is an affirmative statement that the observation was not sought: final, not unknown
    assert (not_asked["status"], theirs("51")["status"]) == ("final", "unknown")
    assert strip(empty["dataAbsentReason"]) == strip(theirs("52")["dataAbsentReason"])
