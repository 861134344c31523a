"""What mortality analytics reads from an Encounter, a Patient and a Condition."""

from __future__ import annotations

from fhir_server.analytics.facts import death_range, encounter_facts, local_reference, principal_code
from fhir_server.search.dates import parse_date_range
from tests.fhir_server.bulk.samples import ATND, condition, encounter


def test_encounter_facts():
    stay = encounter("e1", "p1", start="2024-03-30T22:00:00Z", end="2024-04-02T10:00:00Z", disposition="exp",
                     condition="c1", reason=("1", "One"))
    stay["participant"].insert(0, {"type": [ATND], "individual": {"reference": "Practitioner/admitting"}})
    stay["location"] = [{"location": {"reference": "Location/ed"}, "status": "completed"},
                        {"location": {"reference": "Location/icu"}, "status": "active"},
                        {"location": {"reference": "Location/ward"}, "status": "planned"}]
    facts = encounter_facts(stay)
    assert facts.inpatient and facts.expired
    assert facts.period_end == parse_date_range("2024-04-02T10:00:00Z")[1] and facts.discharge_month == 202404
    assert (facts.patient_id, facts.attending, facts.department, facts.location, facts.condition_id) == \
        ("p1", "Practitioner/doc-1", "Organization/cardio", "Location/icu", "c1")
    assert facts.reason.code == "1" and facts.reason.display == "One"


def test_what_does_not_count():
    assert not encounter_facts(encounter("e", "p", start="2024-01-01", end="2024-01-02", klass="AMB")).inpatient
    assert not encounter_facts(encounter("e", "p", start="2024-01-01", end="2024-01-02", status="entered-in-error")).inpatient
    open_stay = encounter_facts(encounter("e", "p", start="2024-01-01", end=None))
    assert open_stay.inpatient and open_stay.period_end is None and open_stay.discharge_month is None
    bare = encounter_facts({"resourceType": "Encounter", "id": "x", "class": "IMP", "period": "2024"})
    assert not bare.inpatient and bare.period_end is None and bare.attending is None


def test_patient_and_condition_facts():
    low, high = death_range({"deceasedDateTime": "2024-06-03"})
    assert (low, high) == parse_date_range("2024-06-03")
    assert death_range({"deceasedBoolean": True}) == (None, None) and death_range(None) == (None, None)
    assert principal_code(condition("c", "p", "22298006", "MI")).code == "22298006"
    assert principal_code({"code": {"text": "free text only"}}) is None


def test_local_references():
    assert local_reference({"reference": "Patient/1"}) == ("Patient", "1")
    assert local_reference({"reference": "https://x.org/fhir/Patient/1/_history/2"}) == ("Patient", "1")
    assert local_reference({"reference": "#contained"}) is None
    assert local_reference({"reference": "Practitioner/1"}, ("Patient",)) is None
