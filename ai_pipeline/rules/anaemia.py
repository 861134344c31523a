"""WHO anaemia by haemoglobin, age, sex and pregnancy, with severity.

World Health Organization, "Haemoglobin concentrations for the diagnosis of anaemia and assessment of
severity", Vitamin and Mineral Nutrition Information System, WHO/NMH/NHD/MNM/11.1, Geneva 2011,
Table 1 (haemoglobin in g/L, at sea level):

| population                  | no anaemia | mild    | moderate | severe |
|-----------------------------|-----------:|--------:|---------:|-------:|
| children 6–59 months        | ≥ 110      | 100–109 | 70–99    | < 70   |
| children 5–11 years         | ≥ 115      | 110–114 | 80–109   | < 80   |
| children 12–14 years        | ≥ 120      | 110–119 | 80–109   | < 80   |
| non-pregnant women (≥ 15 y) | ≥ 120      | 110–119 | 80–109   | < 80   |
| pregnant women              | ≥ 110      | 100–109 | 70–99    | < 70   |
| men (≥ 15 y)                | ≥ 130      | 110–129 | 80–109   | < 80   |

Age is in whole years, so a child under 1 year is not classified (the table starts at 6 months).
When a woman's pregnancy status is unknown the rule classifies only if both rows give the same answer;
otherwise it reports pregnancy status as missing. (WHO's 2024 guideline refines the thresholds for
young children and by trimester; this rule implements the 2011 table.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from ai_pipeline.rules.inputs import LOINC, Inputs
from ai_pipeline.rules.model import (
    Demographics,
    Finding,
    InputSpec,
    NotEvaluated,
    Observed,
    Prediction,
    RuleResult,
    RuleSpec,
)
from ai_pipeline.rules.outcomes import ANAEMIA

__all__ = ["WhoAnaemia", "anaemia_severity"]

# population → (no anaemia from, mild from, moderate from); below the last: severe
_TABLE: dict[str, tuple[int, int, int]] = {
    "children 6-59 months": (110, 100, 70),
    "children 5-11 years": (115, 110, 80),
    "children 12-14 years": (120, 110, 80),
    "non-pregnant women": (120, 110, 80),
    "pregnant women": (110, 100, 70),
    "men": (130, 110, 80),
}


def anaemia_severity(haemoglobin_g_l: Decimal, population: str) -> str:
    """"none", "mild", "moderate" or "severe" for haemoglobin in g/L and a population of the table."""
    normal, mild, moderate = _TABLE[population]
    if haemoglobin_g_l >= normal:
        return "none"
    if haemoglobin_g_l >= mild:
        return "mild"
    return "moderate" if haemoglobin_g_l >= moderate else "severe"


def _populations(demographics: Demographics) -> list[str] | str:
    """The table rows that may apply, or a string naming what is missing."""
    age, sex = demographics.age_years, demographics.sex
    if age is None:
        return "age"
    if age < 5:
        return ["children 6-59 months"] if age >= 1 else "age in months (under 1 year)"
    if age < 12:
        return ["children 5-11 years"]
    if age < 15:
        return ["children 12-14 years"]
    if sex is None:
        return "sex"
    if sex == "male":
        return ["men"]
    if demographics.pregnant is None:
        return ["non-pregnant women", "pregnant women"]
    return ["pregnant women" if demographics.pregnant else "non-pregnant women"]


class WhoAnaemia:
    """WHO 2011 haemoglobin thresholds for anaemia and its severity."""

    spec = RuleSpec(
        id="who-anaemia-2011",
        title="WHO anaemia and severity by haemoglobin",
        guideline="WHO Haemoglobin concentrations for the diagnosis of anaemia and assessment of severity",
        version="2011 (VMNIS WHO/NMH/NHD/MNM/11.1)",
        citation="World Health Organization. WHO/NMH/NHD/MNM/11.1, Geneva 2011, Table 1.",
        inputs=(InputSpec("haemoglobin", LOINC.HAEMOGLOBIN), InputSpec("age"), InputSpec("sex"),
                InputSpec("pregnancy status", required=False)),
    )

    def evaluate(self, observations: Sequence[Observed], demographics: Demographics, *,
                 at: datetime | None = None) -> RuleResult:
        found = Inputs(observations, at).quantity(LOINC.HAEMOGLOBIN, "g/L", analyte="haemoglobin")
        populations = _populations(demographics)
        missing = ([] if found else ["haemoglobin (LOINC 718-7) in g/L or g/dL"]) + (
            [populations] if isinstance(populations, str) else [])
        if missing or found is None or isinstance(populations, str):
            reason: Literal["not-applicable", "missing-input"] = (
                "not-applicable" if missing == ["age in months (under 1 year)"] else "missing-input")
            return NotEvaluated(self.spec, reason, tuple(missing), "insufficient inputs: missing " + ", ".join(missing))
        haemoglobin, observed = found
        grades = {population: anaemia_severity(haemoglobin, population) for population in populations}
        if len(set(grades.values())) > 1:
            return NotEvaluated(self.spec, "missing-input", ("pregnancy status",),
                                "insufficient inputs: missing pregnancy status, which changes the WHO category "
                                f"({', '.join(f'{p}: {g}' for p, g in grades.items())})")
        severity = next(iter(grades.values()))
        population = " or ".join(populations)
        hb_text = f"haemoglobin {observed.value} {observed.unit}"
        verdict = "no anaemia" if severity == "none" else f"{severity} anaemia"
        rationale = f"{hb_text} ({haemoglobin.normalize():f} g/L) in {population}: {verdict} by the WHO 2011 thresholds."
        prediction = Prediction(ANAEMIA, risk="low" if severity == "none" else "high", risk_text=verdict,
                                rationale=rationale)
        return Finding(self.spec, (prediction,), severity != "none", verdict.capitalize(), rationale, (observed,),
                       {"severity": severity, "haemoglobin_g_l": haemoglobin})
