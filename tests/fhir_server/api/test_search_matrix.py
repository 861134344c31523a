"""Search criteria as a client sends them, per parameter type × prefix × modifier, over the clinic
data, on SQLite and PostgreSQL. Each row: the request and the ids of the matches it must return."""

from __future__ import annotations

from typing import Any

from tests.fhir_server.api.test_search_clinic import OBSERVATIONS, ids, load

Q = "http://unitsofmeasure.org"
VITAL_SIGNS = {"hr1", "hr2", "bp1", "bp2", "bp3", "wt1", "wt2", "temp1", "temp2"}

MATRIX: list[tuple[str, dict[str, str] | list[tuple[str, str]], set[str]]] = [
    # string: starts-with, case/accent/punctuation folded; :exact; :contains
    ("Patient", {"name": "oka"}, {"pat1"}),
    ("Patient", {"name": "OKAFOR"}, {"pat1"}),
    ("Patient", {"family": "garcia lopez"}, {"pat2"}),
    ("Patient", {"family": "muller"}, {"pat4"}),
    ("Patient", {"family:exact": "Okafor"}, {"pat1"}),
    ("Patient", {"family:exact": "okafor"}, set()),
    ("Patient", {"name:contains": "lope"}, {"pat2"}),
    ("Patient", {"given": "mei,jonas"}, {"pat3", "pat4"}),
    ("Practitioner", {"name": "mens"}, {"pr1"}),
    ("Observation", {"value-string": "neg"}, {"urine"}),
    # token: code, system|code, |code, system|, :not, :text, :missing, booleans, identifiers
    ("Patient", {"gender": "female"}, {"pat1", "pat3"}),
    ("Patient", {"gender:not": "female"}, {"pat2", "pat4"}),
    ("Patient", {"identifier": "http://hospital.example.org/mrn|MRN-1002"}, {"pat2"}),
    ("Patient", {"identifier": "MRN-1003"}, {"pat3"}),
    ("Patient", {"identifier": "|MRN-1003"}, set()),
    ("Patient", {"active": "false"}, {"pat3"}),
    ("Patient", {"deceased": "true"}, {"pat2"}),
    ("Observation", {"code": "http://loinc.org|2345-7"}, {"glu1", "glu2", "glu3"}),
    ("Observation", {"code": "2345-7,2339-0"}, {"glu1", "glu2", "glu3", "glu4"}),
    ("Observation", {"code": "http://snomed.info/sct|2345-7"}, set()),
    ("Observation", {"code:text": "glucose"}, {"glu1", "glu2", "glu3", "glu4", "urine"}),
    ("Observation", {"category": "vital-signs"}, VITAL_SIGNS),
    ("Observation", {"status:not": "final"}, {"hb1"}),
    ("Observation", {"value-concept": "http://snomed.info/sct|8517006"}, {"smoke"}),
    ("Observation", {"value-concept:text": "former"}, {"smoke"}),
    ("Observation", {"combo-code": "8480-6"}, {"bp1", "bp2", "bp3"}),
    # unions (`SearchParam.union_of`): the rows of code and component-code, of value-quantity and
    # component-value-quantity...; a negation holds of each
    ("Observation", {"combo-code": "http://loinc.org|85354-9,2339-0"}, {"bp1", "bp2", "bp3", "glu4"}),
    ("Observation", {"combo-code:not": "8462-4"}, OBSERVATIONS - {"bp1", "bp2", "bp3"}),
    ("Observation", {"combo-code:not": "85354-9,2345-7"}, OBSERVATIONS - {"bp1", "bp2", "bp3", "glu1", "glu2", "glu3"}),
    ("Observation", {"combo-code:missing": "true"}, set()),
    ("Observation", {"combo-code:missing": "false"}, OBSERVATIONS),
    ("Observation", {"combo-code:text": "glucose"}, {"glu1", "glu2", "glu3", "glu4", "urine"}),
    ("Observation", {"combo-value-concept": "http://snomed.info/sct|8517006"}, {"smoke"}),
    ("Observation", {"combo-value-concept:not": "8517006"}, OBSERVATIONS - {"smoke"}),
    ("Observation", {"combo-value-concept:missing": "false"}, {"smoke"}),
    ("Observation", {"combo-data-absent-reason:missing": "false"}, set()),
    ("Condition", {"code": "http://snomed.info/sct|44054006"}, {"cond1"}),
    ("Encounter", {"class": "AMB"}, {"enc1", "enc3"}),
    # date: every prefix, precisions, periods, instants with zones
    ("Observation", {"date": "2024-01-10"}, {"hr1", "bp1", "wt1", "glu1"}),
    ("Observation", {"date": "2024-01-10T10:30:00+01:00"}, {"glu1"}),
    ("Observation", {"date": "ge2024-06"}, {"glu2"}),
    ("Observation", {"date": "lt2024-02"}, {"hr1", "bp1", "wt1", "glu1"}),
    ("Observation", {"date": "gt2024-03-03"}, {"wt2", "cr1", "smoke", "glu2"}),
    ("Observation", {"date": "le2024-01-10"}, {"hr1", "bp1", "wt1", "glu1"}),
    ("Observation", {"date": "sa2024-04-01"}, {"glu2"}),
    ("Observation", {"date": "eb2024-01-11"}, {"hr1", "bp1", "wt1", "glu1"}),
    ("Observation", {"date": "ne2024"}, set()),
    ("Observation", [("date", "ge2024-02-01"), ("date", "lt2024-02-03")], {"hr2", "bp2", "temp1", "glu3", "hb1", "cr2"}),
    ("Patient", {"birthdate": "1984"}, {"pat1"}),
    ("Patient", {"birthdate": "le1960"}, {"pat2"}),
    ("Patient", {"birthdate": "eb1980"}, {"pat2", "pat4"}),
    ("Patient", {"birthdate": "ap1975-06-01"}, {"pat4"}),
    ("Encounter", {"date": "ge2024-02-04"}, {"enc2", "enc3", "enc4"}),
    ("Encounter", {"date": "2024-02"}, {"enc2"}),
    ("Condition", {"onset-date": "lt2016"}, {"cond2"}),
    ("Condition", {"onset-date": "ge2019"}, {"cond1", "cond3"}),
    # number
    ("RiskAssessment", {"probability": "gt0.2"}, {"ra2"}),
    ("RiskAssessment", {"probability": "0.12"}, {"ra1"}),
    ("RiskAssessment", {"probability": "le0.35"}, {"ra1", "ra2"}),
    ("RiskAssessment", {"probability": "ne0.12"}, {"ra2"}),
    # quantity: across UCUM units, commensurable only; no unit compares the numbers as written
    ("Observation", {"value-quantity": f"gt5.4|{Q}|mmol/L"}, {"glu1"}),
    ("Observation", {"value-quantity": f"ge5.4|{Q}|mmol/L"}, {"glu1", "glu2"}),
    ("Observation", {"value-quantity": f"5.4|{Q}|mmol/L"}, {"glu2"}),
    ("Observation", {"value-quantity": f"5400|{Q}|umol/L"}, {"glu2"}),
    ("Observation", {"value-quantity": f"lt5000|{Q}|umol/L"}, {"glu3", "cr2"}),  # creatinine too: any substance
    ("Observation", {"value-quantity": f"gt100|{Q}|mg/dL"}, {"glu4", "hb1"}),  # 9.8 g/dL is 9800 mg/dL
    ("Observation", {"value-quantity": f"gt1|{Q}|g/L"}, {"glu4", "hb1"}),
    ("Observation", {"value-quantity": f"gt80|{Q}|kg"}, {"wt2"}),
    ("Observation", {"value-quantity": f"lt100000|{Q}|g"}, {"wt1", "wt2"}),
    ("Observation", {"value-quantity": f"gt37|{Q}|Cel"}, {"temp1", "temp2"}),
    ("Observation", {"value-quantity": f"ap100|{Q}|[degF]"}, {"temp1", "temp2"}),  # ±10 [degF], not ±10% of kelvins
    ("Observation", {"value-quantity": f"ap85|{Q}|kg"}, {"wt2"}),
    ("Observation", {"value-quantity": f"gt60|{Q}|/min"}, {"hr1", "hr2"}),
    ("Observation", {"value-quantity": "gt100"}, {"hr2", "glu4", "cr2", "wt2", "glu2"}),
    ("Observation", {"value-quantity": "110||mg/dL"}, {"glu4"}),
    ("Observation", {"component-value-quantity": f"gt140|{Q}|mm[Hg]"}, {"bp2"}),
    ("Observation", {"value-quantity:missing": "true"}, {"bp1", "bp2", "bp3", "smoke", "urine"}),
    ("Observation", {"combo-value-quantity": f"gt140|{Q}|mm[Hg]"}, {"bp2"}),
    ("Observation", {"combo-value-quantity": "gt100"}, {"hr2", "glu4", "cr2", "wt2", "glu2", "bp1", "bp2", "bp3"}),
    ("Observation", {"combo-value-quantity": f"lt80|{Q}|mm[Hg],gt7|{Q}|mmol/L"}, {"bp3", "glu1"}),
    ("Observation", {"combo-value-quantity:missing": "true"}, {"smoke", "urine"}),
    # composite: the components of one element together
    ("Observation", {"component-code-value-quantity": f"http://loinc.org|8480-6$gt140|{Q}|mm[Hg]"}, {"bp2"}),
    ("Observation", {"component-code-value-quantity": "8480-6$gt120"}, {"bp1", "bp2"}),
    ("Observation", {"component-code-value-quantity": "8462-4$gt120"}, set()),
    ("Observation", {"component-code-value-quantity": "8462-4$lt80,8480-6$ge150"}, {"bp2", "bp3"}),
    ("Observation", {"combo-code-value-quantity": "8480-6$gt140"}, {"bp2"}),
    ("Observation", {"combo-code-value-quantity": f"http://loinc.org|2345-7$gt5.0|{Q}|mmol/L"}, {"glu1", "glu2"}),
    ("Observation", {"combo-code-value-quantity": f"8480-6$gt140,http://loinc.org|2345-7$gt5.0|{Q}|mmol/L"},
     {"bp2", "glu1", "glu2"}),
    ("Observation", {"combo-code-value-quantity:missing": "true"}, {"smoke", "urine"}),
    ("Observation", {"combo-code-value-concept": "72166-2$http://snomed.info/sct|8517006"}, {"smoke"}),
    ("Observation", {"code-value-quantity": f"http://loinc.org|2345-7$gt5.0|{Q}|mmol/L"}, {"glu1", "glu2"}),
    ("Observation", {"code-value-concept": "72166-2$http://snomed.info/sct|8517006"}, {"smoke"}),
    ("Observation", {"code-value-concept": "72166-2$http://snomed.info/sct|77176002"}, set()),
    # composites of the Observation itself are searched through the rows of code and value-quantity
    # (value-concept) of one Observation (`SearchParam.component_params`)
    ("Observation", {"code-value-quantity": f"2345-7$lt5|{Q}|mmol/L"}, {"glu3"}),
    ("Observation", {"code-value-quantity": "2345-7$lt100,2339-0$gt100"}, {"glu1", "glu3", "glu4"}),
    ("Observation", {"code-value-quantity": "2339-0$lt100"}, set()),
    ("Observation", {"code-value-quantity": "85354-9$gt100"}, set()),
    ("Observation", [("code-value-quantity", f"2345-7$gt5|{Q}|mmol/L"), ("code-value-quantity", f"2345-7$lt7|{Q}|mmol/L")],
     {"glu2"}),
    ("Observation", {"code-value-quantity:missing": "true"}, {"bp1", "bp2", "bp3", "smoke", "urine"}),
    ("Observation", {"code-value-quantity:missing": "false"}, OBSERVATIONS - {"bp1", "bp2", "bp3", "smoke", "urine"}),
    ("Observation", {"code-value-concept:missing": "false"}, {"smoke"}),
    ("Observation", {"combo-code-value-concept:missing": "true"}, OBSERVATIONS - {"smoke"}),
    ("Observation", {"code-value-string": "5792-7$neg"}, {"urine"}),
    ("Observation", {"code-value-date": "8867-4$2024-01-10"}, set()),
    # reference, chains (two levels), _has (with a chain inside), :missing
    ("Observation", {"subject": "Patient/pat1", "code": "2345-7"}, {"glu1", "glu2"}),
    ("Observation", {"patient": "pat2", "category": "laboratory"}, {"glu3", "hb1", "cr2"}),
    ("Observation", {"subject:Patient": "pat3", "date": "ge2024-03-03T14:20:00Z"}, {"glu4", "urine"}),
    ("Observation", {"encounter": "Encounter/enc2"}, {"hr2", "bp2"}),
    ("Patient", {"general-practitioner": "Practitioner/pr1"}, {"pat1", "pat3"}),
    ("Patient", {"general-practitioner:missing": "true"}, {"pat4"}),
    ("Patient", {"organization": "org1"}, {"pat1", "pat4"}),
    ("Observation", {"subject:Patient.name": "okafor", "category": "vital-signs"}, {"hr1", "bp1", "wt1"}),
    ("Observation", {"patient.general-practitioner.name": "mensah", "code": "2345-7,2339-0"}, {"glu1", "glu2", "glu4"}),
    ("Encounter", {"subject.birthdate": "le1960"}, {"enc2"}),
    ("DiagnosticReport", {"result.value-quantity": f"gt7|{Q}|mmol/L"}, {"dr1"}),
    ("Patient", {"_has:Observation:patient:code": "718-7"}, {"pat2"}),
    ("Patient", {"_has:Observation:subject:value-quantity": f"gt37.5|{Q}|Cel"}, {"pat2"}),
    ("Patient", {"_has:DiagnosticReport:subject:result.code": "2345-7"}, {"pat1"}),
    ("Practitioner", {"_has:Patient:general-practitioner:_has:Condition:subject:code": "44054006"}, {"pr1"}),
    # _id, _lastUpdated, _profile (uri), _text, _content, _list
    ("Patient", {"_id": "pat1,pat3"}, {"pat1", "pat3"}),
    ("Patient", {"_lastUpdated": "gt2000"}, {"pat1", "pat2", "pat3", "pat4"}),
    ("Observation", {"_profile": "http://hl7.org/fhir/StructureDefinition/vitalsigns"}, VITAL_SIGNS),
    ("Patient", {"_text": "diabetes"}, {"pat1"}),
    ("Patient", {"_text": "metf diab"}, {"pat1"}),
    ("Patient", {"_text": "anaemia,metformin"}, {"pat1", "pat2"}),
    ("Observation", {"_content": "hemoglobin"}, {"hb1"}),
    ("Condition", {"_content": "hypertensive"}, {"cond2"}),
    ("Observation", {"_list": "flagged"}, {"glu1", "hb1"}),
    ("Observation", {"_list": "nope"}, set()),
]

COMPARTMENTS: list[tuple[str, dict[str, str], set[str]]] = [
    ("Patient/pat1/Observation", {}, {"hr1", "bp1", "wt1", "glu1", "glu2"}),
    ("Patient/pat1/Observation", {"code": "2345-7"}, {"glu1", "glu2"}),
    ("Patient/pat2/Condition", {}, {"cond2", "cond3"}),
    ("Patient/pat2/*", {"_lastUpdated": "gt2000"},
     {"pat2", "enc2", "hr2", "bp2", "temp1", "glu3", "hb1", "cr2", "cond2", "cond3", "dr2", "ra2"}),
    ("Patient/pat4/Encounter", {}, set()),
]

SYSTEM: list[tuple[dict[str, str], set[str]]] = [
    ({"_type": "Patient,Practitioner", "_id": "pat1,pr1,glu1"}, {"pat1", "pr1"}),
    ({"_id": "pat1,glu1"}, {"pat1", "glu1"}),
    ({"_content": "okafor"}, {"pat1"}),
    ({"_type": "Observation", "code": "718-7"}, {"hb1"}),
    ({"_type": "Observation,DiagnosticReport", "_list": "flagged"}, {"glu1", "hb1"}),
]


async def _ids(client: Any, url: str, params: Any) -> tuple[int, set[str] | str]:
    response = await client.get(url, params=params)
    if response.status_code != 200:
        return response.status_code, response.text
    return 200, ids(response.json())


async def test_every_parameter_type_prefix_and_modifier(client: Any) -> None:
    await load(client)
    failures = []
    for res_type, params, expected in MATRIX:
        query = list(params.items()) if isinstance(params, dict) else params
        status, found = await _ids(client, f"/fhir/{res_type}", [*query, ("_count", "100")])
        if (status, found) != (200, expected):
            failures.append(f"{res_type}?{query}: expected {sorted(expected)}, got {status} {found}")
    for path, params, expected in COMPARTMENTS:
        status, found = await _ids(client, f"/fhir/{path}", {**params, "_count": "100"})
        if (status, found) != (200, expected):
            failures.append(f"{path}?{params}: expected {sorted(expected)}, got {status} {found}")
    for params, expected in SYSTEM:
        status, found = await _ids(client, "/fhir", {**params, "_count": "100"})
        if (status, found) != (200, expected):
            failures.append(f"[base]?{params}: expected {sorted(expected)}, got {status} {found}")
    assert not failures, "\n".join(failures)


async def test_post_search_merges_the_form_with_the_url(client: Any) -> None:
    await load(client)
    response = await client.post("/fhir/Observation/_search", params={"patient": "pat1"},
                                 data={"code": "2345-7", "_count": "100"})
    assert response.status_code == 200 and ids(response.json()) == {"glu1", "glu2"}
    response = await client.post("/fhir/_search", data={"_type": "Patient", "gender": "male"})
    assert response.status_code == 200 and ids(response.json()) == {"pat2", "pat4"}
    response = await client.post("/fhir/Patient/pat1/Condition/_search", data={"code": "44054006"})
    assert response.status_code == 200 and ids(response.json()) == {"cond1"}
    assert len(OBSERVATIONS) > 15
