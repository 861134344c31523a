"""De-identified research extracts: nothing identifying survives; references still join."""

from __future__ import annotations

import re
from datetime import date

import orjson

from fhir_server.bulk.deidentify import AGE_90_URL, Deidentifier, Pseudonymizer, load_or_create_secret
from fhir_server.bulk.deidentify.dates import shift, year_only
from fhir_server.bulk.deidentify.geography import generalise_address
from tests.fhir_server.bulk.harness import Harness
from tests.fhir_server.bulk.samples import PATIENTS, hospital

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


async def load(h: Harness) -> list[dict]:
    resources = hospital()
    for resource in resources:
        await h.put(resource)
    return resources


def source_identifiers() -> list[str]:
    """Every identifying value of the sample data, as text that must not appear in an extract."""
    values = []
    for (pid, family, given, mrn, ssn, phone, email, line, city, postal, birth, deceased) in PATIENTS:
        values += [f"Patient/{pid}", f'"{pid}"', family, given, mrn, ssn, phone, email, line, city, postal, birth,
                   f"{family}-Kin", "+1 307 555 0199", "aGVsbG8="]
        if deceased:
            values += [deceased, deceased[:10]]
    values += ["House", "Quinn", "NPI-doc-1", "Okafor was anxious", "Patient name", "Practitioner/doc-1",
               "Encounter/e-ada", "Condition/mi-ada", "2024-02-01", "2024-02-05", "2024-05-10", "08:15:00",
               "http://hospital.example.org/mrn", "us-ssn"]
    return values


def leaks(value: str, text: str) -> bool:
    """Whether `value` appears in `text`; a reference counts only when whole (a pseudonym of another id
    may begin with the characters of `bo` in `Patient/bo`)."""
    if "/" not in value:
        return value in text
    return re.search(re.escape(value) + r"(?![A-Za-z0-9\-.])", text) is not None


async def extract(h: Harness, mode: str) -> tuple[dict, bytes, dict[str, list[dict]]]:
    manifest = await h.manifest(await h.export("/fhir/Patient/$export", _deidentify=mode))
    raw = b""
    by_type: dict[str, list[dict]] = {}
    for item in manifest["output"]:
        response = await h.http.get(item["url"].removeprefix("http://testserver"))
        raw += response.content
        by_type.setdefault(item["type"], []).extend(orjson.loads(line) for line in response.content.splitlines())
    return manifest, raw, by_type


async def test_safe_harbor_extract_keeps_no_identifier(h: Harness):
    await load(h)
    manifest, raw, by_type = await extract(h, "safe-harbor")
    text = raw.decode()
    for value in source_identifiers():
        assert not leaks(value, text), value
    # no full date of any kind: only years (an instant keeps its year as YYYY-01-01T00:00:00Z)
    assert not DATE.search(text.replace("-01-01T00:00:00Z", "")), DATE.search(text)
    assert manifest["extension"] == {"https://fhir-server.dev/fhir/StructureDefinition/bulk-deidentification":
                                     "safe-harbor"}
    assert sum(len(v) for v in by_type.values()) == 3 + 2 + 3 + 9 + 1  # nothing dropped
    patients = {p["address"][0]["postalCode"]: p for p in by_type["Patient"]}
    assert set(patients) == {"820", "591"}  # 3-digit ZIPs, state and country only
    assert all(set(p["address"][0]) == {"state", "country", "postalCode"} for p in by_type["Patient"])
    assert all("PSEUDED" in [s["code"] for s in p["meta"]["security"]] for p in by_type["Patient"])
    years = sorted(p.get("birthDate", "masked") for p in by_type["Patient"])
    assert years == ["1958", "1984", "masked"]


async def test_references_still_join_across_files(h: Harness):
    await load(h)
    _, _, by_type = await extract(h, "safe-harbor")
    patient_ids = {p["id"] for p in by_type["Patient"]}
    assert len(patient_ids) == 3
    for res_type in ("Observation", "Encounter", "Condition"):
        assert {r["subject"]["reference"].split("/")[1] for r in by_type[res_type]} <= patient_ids
    conditions = {c["id"] for c in by_type["Condition"]}
    diagnosed = {e["diagnosis"][0]["condition"]["reference"].split("/")[1] for e in by_type["Encounter"] if "diagnosis" in e}
    assert diagnosed == conditions
    group = by_type["Group"][0]
    assert {m["entity"]["reference"].split("/")[1] for m in group["member"]} < patient_ids
    # the same pseudonyms in a second extract (same server secret)
    _, _, again = await extract(h, "safe-harbor")
    assert {p["id"] for p in again["Patient"]} == patient_ids


async def test_over_89_is_one_category(h: Harness):
    await load(h)
    _, _, by_type = await extract(h, "safe-harbor")
    oldest = [p for p in by_type["Patient"] if "birthDate" not in p]
    assert len(oldest) == 1
    assert {"url": AGE_90_URL, "valueBoolean": True} in oldest[0]["extension"]
    assert oldest[0]["_birthDate"]["extension"][0]["valueCode"] == "masked"


async def test_date_shift_is_consistent_per_patient(h: Harness):
    resources = await load(h)
    _, raw, by_type = await extract(h, "date-shift")
    text = raw.decode()
    for value in source_identifiers():
        if not DATE.fullmatch(value[:10]) and value != "08:15:00":  # shifting whole days keeps the time of day
            assert not leaks(value, text), value
    pseudonyms = Pseudonymizer(load_or_create_secret(h.runtime.bulk_exports.config.secret_file))
    for pid, *_rest, birth, _deceased in PATIENTS:
        offset = pseudonyms.day_offset(pid)
        pseudonym = pseudonyms.pseudonym("Patient", pid)
        observed = sorted(o["effectiveDateTime"] for o in by_type["Observation"]
                          if o["subject"]["reference"] == f"Patient/{pseudonym}")
        source = sorted(r["effectiveDateTime"] for r in resources
                        if r["resourceType"] == "Observation" and r["subject"]["reference"] == f"Patient/{pid}")
        assert observed == [shift(value, offset) for value in source]
        assert observed != source
        patient = next(p for p in by_type["Patient"] if p["id"] == pseudonym)
        if "birthDate" in patient:
            moved = date.fromisoformat(patient["birthDate"]) - date.fromisoformat(birth)
            assert moved.days == offset


def test_rules_by_type():
    deidentify = Deidentifier(Pseudonymizer(b"k" * 32), reference_year=2026, base_url="https://fhir.example/fhir")
    out = deidentify({
        "resourceType": "Observation", "id": "o1", "status": "final", "text": {"status": "generated", "div": "<div/>"},
        "code": {"text": "free text", "coding": [{"system": "http://loinc.org", "code": "1", "display": "X"}]},
        "subject": {"reference": "https://fhir.example/fhir/Patient/p1/_history/3", "display": "Ann"},
        "performer": [{"reference": "https://elsewhere.example/Practitioner/9"}, {"reference": "#c1"}],
        "contained": [{"resourceType": "Practitioner", "id": "c1", "name": [{"family": "Doe"}]}],
        "valueString": "Ann Doe, 12 Main St", "issued": "2024-03-05T10:00:00.000Z",
        "extension": [{"url": "http://x/ext", "valueString": "secret"}, {"url": "http://x/age",
                                                                         "valueAge": {"value": 1100, "code": "mo"}}],
        "identifier": [{"value": "LAB-1"}], "device": {"identifier": {"value": "SN-9"}},
        "unknownProperty": "whatever",
    })
    assert out["subject"] == {"reference": f"Patient/{Pseudonymizer(b'k' * 32).pseudonym('Patient', 'p1')}"}
    assert out["performer"] == [{"reference": "#c1"}]
    assert out["contained"][0] == {"resourceType": "Practitioner", "id": "c1", "meta": out["contained"][0]["meta"]}
    assert out["code"] == {"coding": [{"system": "http://loinc.org", "code": "1", "display": "X"}]}
    assert out["issued"] == "2024-01-01T00:00:00Z"
    assert out["extension"] == [{"url": "http://x/age", "valueAge": {"value": 90, "comparator": ">=", "unit": "years",
                                                                      "system": "http://unitsofmeasure.org", "code": "a"}}]
    for gone in ("text", "valueString", "identifier", "device", "unknownProperty"):
        assert gone not in out


def test_geography_and_dates():
    assert generalise_address({"line": ["1 A St"], "city": "X", "state": "VT", "postalCode": "05901"}) == \
        {"state": "VT", "postalCode": "000"}  # 059 covers fewer than 20,000 people
    assert generalise_address({"state": "WY", "postalCode": "82001-1234", "country": "USA"})["postalCode"] == "820"
    assert generalise_address({"city": "Leeds", "postalCode": "LS1 4AB", "country": "GB"}) == {"country": "GB"}
    assert generalise_address({"line": ["only a street"]}) is None
    assert year_only("2024-03-05", "date") == "2024" and year_only("2024-03-05T01:02:03Z", "instant") == "2024-01-01T00:00:00Z"
    assert shift("2024-03", 40) == "2024-04" and shift("2024-03-05T10:00:00.123+02:00", -5) == "2024-02-29T10:00:00.123+02:00"


def test_pseudonyms_are_keyed(tmp_path):
    secret = load_or_create_secret(tmp_path / "k")
    assert load_or_create_secret(tmp_path / "k") == secret and (tmp_path / "k").stat().st_mode & 0o077 == 0
    one, other = Pseudonymizer(secret), Pseudonymizer(b"x" * 32)
    assert one.pseudonym("Patient", "1") == one.pseudonym("Patient", "1") != other.pseudonym("Patient", "1")
    assert one.pseudonym("Patient", "1") != one.pseudonym("Observation", "1")
    assert re.fullmatch(r"[a-z2-7]{26}", one.pseudonym("Patient", "1"))
    assert all(one.day_offset(str(n)) != 0 and abs(one.day_offset(str(n))) <= 365 for n in range(200))
