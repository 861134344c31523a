"""Choosing a rule's inputs: the right observation by LOINC code, in the unit the rule computes in.

`Inputs` indexes a patient's observations by LOINC code and answers "the latest creatinine in
µmol/L", converting units through the explicit table in `ai_pipeline.units` and recording what it
could not find, so a rule can say exactly what is missing. Observations after `at` (the evaluation
time) are ignored. `observed_from_fhir` turns stored FHIR R4 Observation resources (parsed by
`resources.fhir_json.loads`, decimals as Decimal) into `Observed` values, components included
(a blood-pressure panel gives its systolic component, LOINC 8480-6).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from ai_pipeline.rules.model import Observed
from ai_pipeline.units import UCUM_SYSTEM, UnitConversionError, convert

__all__ = ["Inputs", "observed_from_fhir", "LOINC"]


class LOINC:
    """The LOINC codes the rules read, grouped by what they measure."""

    CREATININE = ("2160-0", "14682-9")
    EGFR = ("98979-8", "62238-1", "69405-9", "33914-3")
    ACR = ("32294-1", "9318-7", "14959-1")
    HBA1C = ("4548-4", "59261-8", "17856-6")
    FASTING_GLUCOSE = ("14771-0", "1558-6")
    HAEMOGLOBIN = ("718-7",)
    POTASSIUM = ("2823-3", "6298-4")
    SODIUM = ("2951-2", "2947-0")
    RESPIRATORY_RATE = ("9279-1",)
    SPO2 = ("59408-5", "2708-6")
    OXYGEN_FLOW = ("3151-8",)
    INHALED_OXYGEN = ("3150-0",)
    TEMPERATURE = ("8310-5",)
    SYSTOLIC_BP = ("8480-6",)
    HEART_RATE = ("8867-4",)
    CONSCIOUSNESS = ("67775-7",)
    GCS_TOTAL = ("9269-2",)


def _when(observed: Observed) -> float:
    if observed.effective is None:
        return float("-inf")
    return observed.effective.timestamp()


class Inputs:
    """A patient's observations by LOINC code, as of `at`."""

    def __init__(self, observations: Sequence[Observed], at: datetime | None = None) -> None:
        self._by_code: dict[str, list[Observed]] = {}
        for observed in observations:
            if at is not None and observed.effective is not None and _later(observed.effective, at):
                continue
            self._by_code.setdefault(observed.loinc, []).append(observed)

    def all(self, codes: Iterable[str]) -> list[Observed]:
        """Every observation with one of `codes`, oldest first (undated ones first)."""
        found = [o for code in codes for o in self._by_code.get(code, [])]
        return sorted(found, key=_when)

    def latest(self, codes: Iterable[str]) -> Observed | None:
        found = self.all(codes)
        return found[-1] if found else None

    def quantity(self, codes: Iterable[str], unit: str, *, analyte: str) -> tuple[Decimal, Observed] | None:
        """The latest numeric, uncensored observation with one of `codes`, converted to `unit`."""
        for observed in reversed(self.all(codes)):
            converted = in_unit(observed, unit, analyte=analyte)
            if converted is not None and observed.comparator is None:
                return converted, observed
        return None


def in_unit(observed: Observed, unit: str, *, analyte: str) -> Decimal | None:
    """The observation's number in `unit`, or None when it has no number or no known conversion."""
    number = observed.number
    if number is None:
        return None
    if observed.unit is None:
        return None
    try:
        return convert(number, observed.unit, unit, analyte=analyte)
    except UnitConversionError:
        return None


def _later(a: datetime, b: datetime) -> bool:
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return a > b


def _parse_datetime(text: Any) -> datetime | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _loinc(concept: Any) -> tuple[str, str | None] | None:
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") == "http://loinc.org" and coding.get("code"):
            return coding["code"], coding.get("display") or (concept or {}).get("text")
    return None


def _value(element: dict[str, Any]) -> tuple[Decimal | str, str | None, str | None] | None:
    quantity = element.get("valueQuantity")
    if isinstance(quantity, dict) and quantity.get("value") is not None:
        value = quantity["value"]
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        unit = quantity.get("code") if quantity.get("system") == UCUM_SYSTEM else None
        return number, unit, quantity.get("comparator")
    concept = element.get("valueCodeableConcept")
    if isinstance(concept, dict):
        text = concept.get("text") or next(
            (c.get("display") or c.get("code") for c in concept.get("coding", []) if c.get("display") or c.get("code")),
            None,
        )
        return (text, None, None) if text else None
    if isinstance(element.get("valueString"), str):
        return element["valueString"], None, None
    if isinstance(element.get("valueInteger"), int):
        return Decimal(element["valueInteger"]), None, None
    return None


def observed_from_fhir(observation: dict[str, Any]) -> list[Observed]:
    """The usable values of one FHIR R4 Observation (itself and its components); [] if none."""
    if observation.get("resourceType") != "Observation":
        return []
    if observation.get("status") in ("entered-in-error", "cancelled", "registered"):
        return []
    effective = _parse_datetime(observation.get("effectiveDateTime") or observation.get("effectiveInstant")
                                or (observation.get("effectivePeriod") or {}).get("start"))
    reference = f"Observation/{observation['id']}" if observation.get("id") else None
    found = []
    for element in (observation, *observation.get("component", [])):
        code = _loinc(element.get("code"))
        value = _value(element)
        if code is None or value is None:
            continue
        number, unit, comparator = value
        found.append(Observed(code[0], number, unit, comparator, effective, reference, code[1]))
    return found
