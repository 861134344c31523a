"""OBX-6 units → UCUM where the unit is recognisable (v2-to-FHIR IG: CWE[Quantity]).

A unit coded with coding system UCUM is taken as it is. Otherwise the unit text (CWE.1, else CWE.2) is
looked up in a table of the spellings labs actually send - case-insensitively, since v2 senders write
`MG/DL`, `mg/dl` and `mg/dL` alike - and mapped to its case-sensitive UCUM code. Anything else stays
unit text only (Quantity.unit), never a guessed code.
"""

from __future__ import annotations

from dataclasses import dataclass

from hl7_gateway.message import Repetition

__all__ = ["UCUM", "Unit", "unit_from_cwe"]

UCUM = "http://unitsofmeasure.org"

_UNITS = [
    "%", "g", "mg", "ug", "ng", "pg", "kg", "L", "dL", "mL", "uL", "fL", "mol", "mmol", "umol", "nmol", "pmol",
    "g/L", "g/dL", "mg/L", "mg/dL", "ug/L", "ug/dL", "ug/mL", "ng/L", "ng/dL", "ng/mL", "pg/mL", "mg/mL", "kg/m2",
    "mol/L", "mmol/L", "umol/L", "nmol/L", "pmol/L", "mmol/mol", "mmol/kg", "mosm/kg", "meq/L", "U/L", "U/mL",
    "mU/L", "mU/mL", "kU/L", "U/g", "[IU]/L", "[IU]/mL", "m[IU]/L", "m[IU]/mL", "u[IU]/mL", "10*3/uL",
    "10*6/uL", "10*9/L", "10*12/L", "/uL", "/L", "/mL", "/[HPF]", "/[LPF]", "mm[Hg]", "cm[H2O]", "Cel", "[degF]",
    "cm", "mm", "m", "um", "nm", "s", "min", "h", "d", "wk", "mo", "a", "/min", "/h", "mL/min", "mL/min/{1.73_m2}",
    "mL/min/1.73.m2", "mm/h", "g/(24.h)", "mg/(24.h)", "mmol/(24.h)", "{ratio}", "{titer}", "{index}", "[pH]",
    "[ppm]", "%{HbA1c}", "fmol/L", "kPa", "Pa", "bar", "mbar", "[in_i]", "[lb_av]", "[oz_av]", "m2",
]
_ALIASES = {
    "MG/DL": "mg/dL", "G/DL": "g/dL", "ML": "mL", "CC": "mL", "MCL": "uL", "UL": "uL", "FL": "fL",
    "MMHG": "mm[Hg]", "MM HG": "mm[Hg]", "DEG C": "Cel", "DEGC": "Cel", "°C": "Cel", "DEG F": "[degF]", "°F": "[degF]",
    "IU/L": "[IU]/L", "IU/ML": "[IU]/mL", "MIU/L": "m[IU]/L", "MIU/ML": "m[IU]/mL",
    "UIU/ML": "u[IU]/mL", "MEQ/L": "meq/L", "MOSM/KG": "mosm/kg", "K/UL": "10*3/uL", "X10E3/UL": "10*3/uL",
    "10^3/UL": "10*3/uL", "THOU/UL": "10*3/uL", "M/UL": "10*6/uL", "X10E6/UL": "10*6/uL", "10^6/UL": "10*6/uL",
    "MIL/UL": "10*6/uL", "10^9/L": "10*9/L", "X10E9/L": "10*9/L", "10^12/L": "10*12/L", "X10E12/L": "10*12/L",
    "PERCENT": "%", "SEC": "s", "SECS": "s", "MINS": "min", "HR": "h", "HRS": "h", "DAYS": "d", "YR": "a",
    "YRS": "a", "YEARS": "a", "MM/HR": "mm/h", "BPM": "/min", "/HPF": "/[HPF]", "/LPF": "/[LPF]", "RATIO": "{ratio}",
    "TITER": "{titer}", "INDEX": "{index}", "PH": "[pH]", "IN": "[in_i]", "LB": "[lb_av]", "LBS": "[lb_av]",
    "KG/M^2": "kg/m2", "ML/MIN/1.73M2": "mL/min/{1.73_m2}", "ML/MIN/1.73 M2": "mL/min/{1.73_m2}",
}
_TABLE = {unit.upper(): unit for unit in _UNITS} | _ALIASES


@dataclass(frozen=True, slots=True)
class Unit:
    """A Quantity's unit parts: the human text, and a UCUM code when one was recognised."""

    text: str
    code: str | None = None
    system: str | None = None

    def quantity_fields(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        if self.text:
            fields["unit"] = self.text
        if self.code and self.system:
            fields["system"] = self.system
            fields["code"] = self.code
        return fields


def ucum_code(text: str) -> str | None:
    """The UCUM code for a unit spelling labs send, or None."""
    key = text.strip().replace("µ", "u").replace("μ", "u")
    return _TABLE.get(key.upper())


def unit_from_cwe(units: Repetition) -> Unit | None:
    """OBX-6 (CE/CWE) → unit text and, where recognisable, UCUM."""
    identifier, text, system = units.component(1), units.component(2), units.component(3)
    if not identifier and not text:
        return None
    label = text or identifier
    if system.upper() == "UCUM" and identifier:
        return Unit(label, identifier, UCUM)
    # a code from another named system (CWE.3) is that system's code, not unit text
    for candidate in ((text,) if system else (identifier, text)):
        code = ucum_code(candidate) if candidate else None
        if code is not None:
            return Unit(label, code, UCUM)
    return Unit(label)
