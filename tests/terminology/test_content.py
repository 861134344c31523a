"""The vendored content: what it holds, its size, the reviewed LOINC / SNOMED CT / ICD-10 tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from terminology import TerminologyStore, content
from tests.terminology.conftest import ICD10, LOINC, SNOMED

DATA = Path(__file__).resolve().parents[2] / "terminology" / "data"
TOOL = Path(__file__).resolve().parents[2] / "tools" / "vendor_terminology.py"


def _loinc_check_digit(number: str) -> str:
    """LOINC's mod-10 check digit (https://loinc.org/kb/users-guide/calculating-mod-10-check-digits/)."""
    digits = number[::-1]
    odd = "".join(digits[0::2])[::-1]
    even = "".join(digits[1::2])[::-1]
    text = even + str(int(odd) * 2)
    return str((10 - sum(int(c) for c in text) % 10) % 10)


def _verhoeff_valid(number: str) -> bool:
    """SNOMED CT identifiers end in a Verhoeff check digit."""
    def multiply(j: int, k: int) -> int:
        if j < 5 and k < 5:
            return (j + k) % 5
        if j < 5:
            return 5 + (j + k) % 5
        if k < 5:
            return 5 + (j - k) % 5
        return (j - k) % 5
    first = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]
    perms = [list(range(10))]
    for _ in range(7):
        perms.append([first[x] for x in perms[-1]])
    check = 0
    for i, char in enumerate(reversed(number)):
        check = multiply(check, perms[i % 8][int(char)])
    return check == 0


def test_vendored_files_are_small() -> None:
    total = sum(p.stat().st_size for p in DATA.glob("*.gz"))
    assert total < 3_000_000


def test_bundled_content_has_the_spec_and_the_subsets(store: TerminologyStore) -> None:
    assert store.code_system("http://terminology.hl7.org/CodeSystem/v3-ActCode") is not None
    assert store.code_system("http://terminology.hl7.org/CodeSystem/v2-0001") is not None
    assert store.value_set("http://hl7.org/fhir/ValueSet/observation-status") is not None
    assert store.concept_map("http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v2") is not None
    assert 150 <= len(store.require_code_system(LOINC)) <= 300
    snomed = store.require_code_system(SNOMED)
    assert snomed.content == "fragment" and "709044004" in snomed.concepts  # replaces the spec's empty entry
    assert store.require_code_system(ICD10).get("n18.3") is not None  # ICD-10 codes ignore case


def test_non_r4_resources_are_left_out(store: TerminologyStore) -> None:
    # the source carries the R5 detectedissue-status; R4 binds DetectedIssue.status to observation-status
    assert store.code_system("http://hl7.org/fhir/detectedissue-status") is None
    versions = {r.get("version") for r in content.bundled()}
    assert "5.0.0" not in versions


def test_loinc_codes_have_valid_check_digits_and_parts(store: TerminologyStore) -> None:
    loinc = store.require_code_system(LOINC)
    for concept in loinc:
        number, _, check = concept.code.partition("-")
        assert _loinc_check_digit(number) == check, concept.code
        assert concept.display
        assert concept.values("SYSTEM"), concept.code
    creatinine = loinc.get("2160-0")
    assert creatinine is not None
    assert creatinine.values("COMPONENT") == ["Creatinine"] and creatinine.values("EXAMPLE_UCUM_UNITS") == ["mg/dL"]


def test_snomed_codes_have_valid_check_digits(store: TerminologyStore) -> None:
    for concept in store.require_code_system(SNOMED):
        assert _verhoeff_valid(concept.code), concept.code


def test_risk_outcomes_are_covered(store: TerminologyStore) -> None:
    snomed = store.require_code_system(SNOMED)
    for code in ("709044004", "433144002", "14669001", "44054006", "714628002", "271737000", "14140009",
                 "89627008", "91302008", "271299001", "46177005"):
        assert snomed.get(code) is not None, code
    assert snomed.subsumes("709044004", "700378005")  # CKD subsumes CKD stage 3a, through stage 3
    icd = store.require_code_system(ICD10)
    for code in ("N17.9", "N18.5", "E11.9", "R73.0", "D63.1", "E87.5", "E87.1", "A41.9", "R65.1"):
        assert icd.get(code) is not None, code
    assert icd.subsumes("N18", "N18.4")


def test_local_code_systems_match_the_reviewed_tables() -> None:
    spec = importlib.util.spec_from_file_location("vendor_terminology", TOOL)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.local_code_systems() == content.load("local-code-systems.json.gz"), \
        "run: python tools/vendor_terminology.py --local"


def test_licence_notes_are_stated(store: TerminologyStore) -> None:
    readme = (DATA / "README.md").read_text()
    for needle in ("Regenstrief", "loinc.org/license", "SNOMED International", "Affiliate", "World Health Organization"):
        assert needle in readme
    loinc = store.require_code_system(LOINC)
    assert "Regenstrief" in loinc.resource["copyright"]
