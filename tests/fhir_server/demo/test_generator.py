"""The demo data set: deterministic, realistic, valid R4, and loaded through the importer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.demo import FILES, generate
from fhir_server.importer import Importer, find_sources
from fhir_server.storage.positions import Positions
from fhir_server.wiring import build_validator
from resources import fhir_json


def load(directory: Path) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for path in sorted(directory.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            resource = orjson.loads(line)
            found.setdefault(resource["resourceType"], []).append(resource)
    return found


def test_the_same_seed_gives_the_same_bytes(tmp_path):
    generate(tmp_path / "a", patients=20, seed=3)
    generate(tmp_path / "b", patients=20, seed=3)
    generate(tmp_path / "c", patients=20, seed=4)
    for name in FILES:
        assert (tmp_path / "a" / f"{name}.ndjson").read_bytes() == (tmp_path / "b" / f"{name}.ndjson").read_bytes()
    assert (tmp_path / "a" / "04-Patient.ndjson").read_bytes() != (tmp_path / "c" / "04-Patient.ndjson").read_bytes()


def test_the_default_is_a_few_thousand_realistic_valid_resources(tmp_path):
    counts = generate(tmp_path, patients=100, seed=7)
    assert 3000 <= sum(counts.values()) <= 9000
    data = load(tmp_path)
    validator = build_validator()
    for items in data.values():
        for resource in items:
            errors = [i for i in validator(fhir_json.loads(orjson.dumps(resource))) if i.severity == "error"]
            assert errors == [], (resource["resourceType"], errors)
    departments = {role["organization"]["display"] for role in data["PractitionerRole"]}
    assert len(departments) >= 5
    classes = Counter(encounter["class"]["code"] for encounter in data["Encounter"])
    assert classes["IMP"] > 20 and classes["AMB"] > 20
    deaths = [e for e in data["Encounter"]
              if e.get("hospitalization", {}).get("dischargeDisposition", {}).get("coding", [{}])[0].get("code") == "exp"]
    deceased = {p["id"]: p["deceasedDateTime"] for p in data["Patient"] if "deceasedDateTime" in p}
    assert deaths and len(deaths) == len(deceased)
    for encounter in deaths:
        assert deceased[encounter["subject"]["reference"].split("/")[1]] == encounter["period"]["end"]
    labs = [o for o in data["Observation"] if o["category"][0]["coding"][0]["code"] == "laboratory"]
    vitals = [o for o in data["Observation"] if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    assert labs and vitals
    assert all(o["code"]["coding"][0]["system"] == "http://loinc.org" for o in labs + vitals)
    assert all(o["valueQuantity"]["system"] == "http://unitsofmeasure.org" for o in labs)
    assert {"718-7", "2345-7", "2160-0"} <= {o["code"]["coding"][0]["code"] for o in labs}
    observation_ids = {o["id"] for o in data["Observation"]}
    for report in data["DiagnosticReport"]:
        assert all(ref["reference"].split("/")[1] in observation_ids for ref in report["result"])


async def test_it_loads_through_the_importer(runtime, tmp_path):
    counts = generate(tmp_path / "demo", patients=6, seed=11)
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
    report = await Importer(runtime.services.resources, Positions(runtime.store), ctx).run(find_sources([tmp_path / "demo"]))
    assert report.rejected == 0 and report.created == sum(counts.values())


def test_the_mixed_layout_holds_the_same_resources_patient_by_patient(tmp_path):
    by_type = generate(tmp_path / "by-type", patients=10, seed=5)
    mixed = generate(tmp_path / "mixed", patients=10, seed=5, mixed=True)
    assert by_type == mixed
    lines = (tmp_path / "mixed" / "hospital.ndjson").read_bytes().splitlines()
    assert sorted(lines) == sorted(line for path in sorted((tmp_path / "by-type").glob("*.ndjson"))
                                   for line in path.read_bytes().splitlines())
    types = [orjson.loads(line)["resourceType"] for line in lines]
    first_patient = types.index("Patient")
    assert "Observation" in types[first_patient:first_patient + 40]  # a patient's data follows the patient
