"""The vocabulary the extraction knows: lab tests (a LOINC subset) and conditions, shipped as JSON data.

`lab_tests.json` lists each test once with the names reports print and one LOINC code per kind of
unit: creatinine is 14682-9 in µmol/L and 2160-0 in mg/dL; HbA1c is 4548-4 in % (NGSP/DCCT) and
59261-8 in mmol/mol (IFCC). `LabTest.code_for(unit)` picks the code from the unit found beside the
value. `conditions.json` lists conditions with SNOMED CT and WHO ICD-10 codes. Both load once per
process; `check()` refuses a lexicon whose names collide once OCR look-alikes are folded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, cast

from ai_pipeline.nlp.spelling import compact

__all__ = ["LabCode", "LabTest", "ConditionConcept", "lab_tests", "conditions", "LOINC_SYSTEM", "SNOMED_SYSTEM",
           "ICD10_SYSTEM"]

LOINC_SYSTEM = "http://loinc.org"
SNOMED_SYSTEM = "http://snomed.info/sct"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"


@dataclass(frozen=True, slots=True)
class LabCode:
    """One LOINC code of a test, with its long common name and the UCUM units it is reported in."""

    loinc: str
    display: str
    units: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabTest:
    """A lab test as reports name it, with its LOINC codes (the first is the default)."""

    key: str
    name: str
    synonyms: tuple[str, ...]
    codes: tuple[LabCode, ...]

    def code_for(self, unit: str | None) -> tuple[LabCode, bool]:
        """The code reported in `unit`, and whether the unit decided it (False: the default code)."""
        if unit is not None:
            for code in self.codes:
                if unit in code.units:
                    return code, True
        if unit is None:
            for code in self.codes:
                if "" in code.units:
                    return code, True
        return self.codes[0], False

    @property
    def loinc_codes(self) -> tuple[str, ...]:
        return tuple(code.loinc for code in self.codes)


@dataclass(frozen=True, slots=True)
class ConditionConcept:
    """A condition with its SNOMED CT and ICD-10 codes and the words that name it."""

    key: str
    name: str
    snomed: str
    icd10: str
    synonyms: tuple[str, ...]


def _read(name: str, key: str) -> list[dict[str, Any]]:
    text = resources.files("ai_pipeline.nlp").joinpath(name).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise ValueError(f"{name} must hold a JSON object with a '{key}' list")
    return cast(list[dict[str, Any]], data[key])


@cache
def lab_tests() -> tuple[LabTest, ...]:
    """Every lab test of `lab_tests.json`, checked for folded-name collisions."""
    raw = _read("lab_tests.json", "tests")
    tests = tuple(
        LabTest(
            key=item["key"], name=item["name"], synonyms=tuple(item["synonyms"]),
            codes=tuple(LabCode(c["loinc"], c["display"], tuple(c["units"])) for c in item["codes"]),
        )
        for item in raw
    )
    _check([(t.key, t.synonyms) for t in tests], "lab test")
    return tests


@cache
def conditions() -> tuple[ConditionConcept, ...]:
    """Every condition of `conditions.json`, checked for folded-name collisions."""
    raw = _read("conditions.json", "conditions")
    found = tuple(
        ConditionConcept(item["key"], item["name"], item["snomed"], item["icd10"], tuple(item["synonyms"]))
        for item in raw
    )
    _check([(c.key, c.synonyms) for c in found], "condition")
    return found


def _check(entries: list[tuple[str, tuple[str, ...]]], kind: str) -> None:
    owner: dict[str, str] = {}
    for key, synonyms in entries:
        for synonym in synonyms:
            folded = compact(synonym)
            other = owner.setdefault(folded, key)
            if other != key:
                raise ValueError(f"{kind} name '{synonym}' of '{key}' folds to the same text as one of '{other}'")
