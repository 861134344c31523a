"""ADT^A01/A03/A04/A08 and ORM^O01/OML^O21 → transaction Bundles; OUL^R22 from the HAPI file."""

from __future__ import annotations

from typing import Any

import pytest

from hl7_gateway import (
    ContentError,
    MappingOptions,
    UnsupportedMessage,
    map_message,
    parse_message,
    split_frame,
)
from resources import validate
from tests.hl7_gateway.conftest import entry_of, resources_of, sample

IG_ADT = sample("19_v2tofhir")


def mapped(raw: bytes) -> dict[str, Any]:
    result = map_message(parse_message(raw))
    assert validate(result.bundle) == [], validate(result.bundle)[:3]
    return result.bundle


def test_adt_a01_updates_patient_and_encounter_conditionally() -> None:
    bundle = mapped(IG_ADT)
    patient, encounter = entry_of(bundle, "Patient"), entry_of(bundle, "Encounter")
    assert patient["request"] == {"method": "PUT", "url": "Patient?identifier=urn:oid:1.2.3.4.5|1032702"}
    assert encounter["request"] == {"method": "PUT", "url": "Encounter?identifier=urn:oid:1.2.3.4.5.6|81456267"}
    resource = encounter["resource"]
    assert resource["status"] == "in-progress"
    assert resource["class"]["code"] == "EMER" and resource["subject"] == {"reference": patient["fullUrl"]}
    assert resource["period"] == {"start": "2015-06-01T13:58:00+00:00"}
    attender = resource["participant"][0]
    assert attender["type"][0]["coding"][0]["code"] == "ATND"
    assert patient["resource"]["identifier"][1]["type"]["coding"][0]["code"] == "DL"


@pytest.mark.parametrize("event, status", [("A01", "in-progress"), ("A04", "planned"), ("A03", "finished"),
                                           ("A08", "in-progress")])
def test_adt_events_set_encounter_status(event: str, status: str) -> None:
    raw = IG_ADT.replace(b"ADT^A01^ADT_A01", b"ADT^" + event.encode() + b"^ADT_A01").replace(b"EVN|A01|", b"EVN|" + event.encode() + b"|")
    assert entry_of(mapped(raw), "Encounter")["resource"]["status"] == status


def test_adt_a03_discharge_with_disposition() -> None:
    pv1 = IG_ADT.split(b"\rPV1|")[1].split(b"\r")[0].split(b"|")
    pv1[35] = b"01"         # PV1-36 discharge disposition (table 0112: 01 discharged to home)
    pv1[44] = b"20150605100000+0100"  # PV1-45 discharge date/time
    raw = (IG_ADT.replace(b"ADT^A01^ADT_A01", b"ADT^A03^ADT_A03")
           .replace(IG_ADT.split(b"\rPV1|")[1].split(b"\r")[0], b"|".join(pv1)))
    encounter = entry_of(mapped(raw), "Encounter")["resource"]
    assert encounter["status"] == "finished"
    assert encounter["period"]["end"] == "2015-06-05T10:00:00+01:00"
    disposition = encounter["hospitalization"]["dischargeDisposition"]["coding"]
    assert disposition[0] == {"system": "http://terminology.hl7.org/CodeSystem/discharge-disposition", "code": "home"}
    assert disposition[1] == {"system": "http://terminology.hl7.org/CodeSystem/v2-0112", "code": "01"}


def test_adt_a03_without_pv1_45_uses_evn_event_time() -> None:
    raw = IG_ADT.replace(b"ADT^A01^ADT_A01", b"ADT^A03^ADT_A03")
    # PV1-44 has no offset: read in the configured zone (+01:00 here), the admission precedes EVN-6
    options = MappingOptions(default_timezone="Etc/GMT-1")
    encounter = entry_of(map_message(parse_message(raw), options=options).bundle, "Encounter")["resource"]
    assert encounter["period"] == {"start": "2015-06-01T13:58:00+01:00", "end": "2015-06-01T13:58:22+01:00"}
    # read as UTC, the admission would come after the discharge: the end is left out, with a warning
    result = map_message(parse_message(raw))
    assert "end" not in entry_of(result.bundle, "Encounter")["resource"]["period"]
    assert any("before the admission" in w.diagnostics for w in result.warnings)


def test_adt_v23_with_nulls_and_repeating_ids() -> None:
    bundle = mapped(sample("02_python-hl7"))
    patient = entry_of(bundle, "Patient")["resource"]
    assert [i["value"] for i in patient["identifier"]][:3] == ["2148790", "162840", "2148790"]
    assert patient["identifier"][0]["system"] == "urn:hl7v2:MSH_MRN"
    assert patient["birthDate"] == "1952-11-29" and patient["gender"] == "female"
    encounter = entry_of(bundle, "Encounter")
    assert encounter["resource"]["class"]["code"] == "IMP"


def test_adt_from_batches() -> None:
    for name in ("03_python-hl7_batch", "04_python-hl7_file", "05_python-hl7_batch_no_BHS"):
        for raw in split_frame(sample(name)).messages:
            result = map_message(parse_message(raw))
            assert validate(result.bundle) == []
            assert {str(w.location) for w in result.warnings} == {"PID-8.1", "PV1-19.1"}  # sex '1', no visit number


def test_unsupported_adt_event_and_message_types() -> None:
    with pytest.raises(UnsupportedMessage) as raised:
        map_message(parse_message(IG_ADT.replace(b"ADT^A01^ADT_A01", b"ADT^A02^ADT_A02")))
    assert raised.value.code == 201
    for name, code in (("20_v2tofhir", 200), ("08_hl7apy", 201), ("bad_hapi_BAR_P01", 200)):
        with pytest.raises(UnsupportedMessage) as raised:
            map_message(parse_message(sample(name)))
        assert raised.value.code == code


def test_orm_o01_order() -> None:
    bundle = mapped(sample("17_v2tofhir"))
    request = entry_of(bundle, "ServiceRequest")
    assert request["request"] == {"method": "PUT", "url": "ServiceRequest?identifier=urn:oid:1.2.3.4.5.2|ORD777888"}
    resource = request["resource"]
    assert (resource["status"], resource["intent"], resource["priority"]) == ("active", "order", "routine")
    assert resource["authoredOn"] == "2015-06-01T16:10:00+00:00"
    assert resource["note"] == [{"text": "Bluegrass is in bloom at the moment"}]
    assert resource["requester"]["display"] == "Nicholas Radon"
    assert resource["specimen"][0]["reference"] == entry_of(bundle, "Specimen")["fullUrl"]


def test_oml_o21_order_with_spm() -> None:
    bundle = mapped(sample("18_v2tofhir"))
    specimen = entry_of(bundle, "Specimen")
    assert specimen["request"] == {"method": "PUT", "url": "Specimen?identifier=urn:oid:1.2.3.4.5|SPM1234"}
    resource = specimen["resource"]
    assert resource["type"]["coding"][0]["code"] == "SER"
    assert resource["collection"]["quantity"]["code"] == "mL"
    assert resource["note"] == [{"text": "This is a wonderful blood sample.~My first blood draw!"}]
    assert resource["container"][0]["type"]["coding"][0]["code"] == "RT"
    assert entry_of(bundle, "ServiceRequest")["resource"]["specimen"] == [{"reference": specimen["fullUrl"]}]


def test_order_without_order_number_is_refused() -> None:
    raw = sample("17_v2tofhir").replace(b"ORD777889^SndApp^1.2.3.4.5.2^ISO", b"").replace(
        b"ORD777888^SndApp^1.2.3.4.5.2^ISO", b"")
    with pytest.raises(ContentError) as raised:
        map_message(parse_message(raw))
    assert raised.value.code == 101 and str(raised.value.location) == "ORC-2.1"


def test_oul_r22_and_orders_from_the_hapi_stream() -> None:
    mapped_types: list[tuple[str, int | None]] = []
    for raw in split_frame(sample("bad_hapi_file_13_messages")).messages:
        try:
            message = parse_message(raw)
            result = map_message(message)
        except (UnsupportedMessage, ContentError) as error:
            mapped_types.append(("refused", error.code))
            continue
        except Exception as error:  # noqa: BLE001 - parse errors are expected for the two without MSH-10
            mapped_types.append(("unreadable", getattr(error, "code", None)))
            continue
        assert validate(result.bundle) == []
        mapped_types.append((message.header.kind, len(resources_of(result.bundle, "Observation"))))
    assert ("OUL^R22", 2) in mapped_types and ("refused", 200) in mapped_types  # ORL^O34 is not supported
    assert mapped_types.count(("unreadable", 101)) == 2  # two messages without MSH-10
    oul = next(parse_message(r) for r in split_frame(sample("bad_hapi_file_13_messages")).messages
               if b"OUL^R22" in r[:120] and b"msgOF105" in r[:120])
    bundle = map_message(oul).bundle
    report = resources_of(bundle, "DiagnosticReport")[0]
    assert report["specimen"] and report["result"]
