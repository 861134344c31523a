"""The 4-variable Kidney Failure Risk Equation: 2- and 5-year probability of treated kidney failure.

Tangri N et al., "A predictive model for progression of chronic kidney disease to kidney failure",
JAMA 2011;305(15):1553–1559; recalibrated in Tangri N et al., "Multinational assessment of accuracy of
equations for predicting risk of kidney failure: a meta-analysis", JAMA 2016;315(2):164–174:

    risk = 1 − S₀(t) ^ exp( −0.2201 × (age/10 − 7.036) + 0.2467 × (male − 0.5642)
                            − 0.5567 × (eGFR/5 − 7.222) + 0.4510 × (ln ACR[mg/g] − 5.137) )

with baseline survival S₀ = 0.9832 (2 years) and 0.9365 (5 years) for the non-North-American
calibration, 0.9750 and 0.9240 for North America. **The default is non-North-American**: it is the
calibration NICE NG203 (2021) used when adopting the 5-year KFRE for referral (refer above 5 %), and
the one validated outside Canada and the US; pass `region="north-america"` for sites there.

The equation applies to adults with CKD G3–G5 (eGFR < 60); eGFR comes from creatinine by CKD-EPI
2021 when creatinine, age and sex are known, else from a reported eGFR. ACR in mg/mmol is converted
to mg/g (× 8.84). Qualitative risk from the 5-year probability: < 3 % low, 3–5 % moderate (KDIGO 2024
suggests nephrology referral from 3–5 %), > 5 % high (NICE NG203 referral threshold).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from ai_pipeline.rules.inputs import LOINC, Inputs, in_unit
from ai_pipeline.rules.kidney import egfr_input
from ai_pipeline.rules.model import (
    Demographics,
    Finding,
    InputSpec,
    NotEvaluated,
    Observed,
    Prediction,
    RiskLevel,
    RuleResult,
    RuleSpec,
    Sex,
)
from ai_pipeline.rules.outcomes import KIDNEY_FAILURE

__all__ = ["Kfre4", "kfre_4_variable", "Region"]

Region = Literal["non-north-america", "north-america"]
_BASELINE: dict[Region, dict[int, float]] = {
    "non-north-america": {2: 0.9832, 5: 0.9365},
    "north-america": {2: 0.9750, 5: 0.9240},
}


def kfre_4_variable(*, age_years: int, sex: Sex, egfr: Decimal, acr_mg_g: Decimal, years: int,
                    region: Region = "non-north-america") -> Decimal:
    """Probability (0–1, four decimals) of kidney failure within `years` (2 or 5)."""
    male = 1.0 if sex == "male" else 0.0
    linear = (-0.2201 * (age_years / 10 - 7.036) + 0.2467 * (male - 0.5642)
              - 0.5567 * (float(egfr) / 5 - 7.222) + 0.4510 * (math.log(float(acr_mg_g)) - 5.137))
    risk = 1 - _BASELINE[region][years] ** math.exp(linear)
    return Decimal(repr(risk)).quantize(Decimal("0.0001"))


class Kfre4:
    """Kidney Failure Risk Equation, 4 variables (age, sex, eGFR, urine ACR)."""

    def __init__(self, region: Region = "non-north-america") -> None:
        self.region = region
        self.spec = RuleSpec(
            id="kfre-4-variable",
            title="Kidney Failure Risk Equation (4-variable)",
            guideline=f"Kidney Failure Risk Equation, {region} calibration",
            version="Tangri 2011, recalibrated 2016",
            citation=("Tangri N et al. JAMA 2011;305(15):1553-1559. Tangri N et al. JAMA 2016;315(2):164-174. "
                      "NICE NG203 (2021)."),
            inputs=(InputSpec("age"), InputSpec("sex"),
                    InputSpec("serum creatinine or reported eGFR", LOINC.CREATININE + LOINC.EGFR),
                    InputSpec("urine albumin/creatinine ratio", LOINC.ACR)),
        )

    def evaluate(self, observations: Sequence[Observed], demographics: Demographics, *,
                 at: datetime | None = None) -> RuleResult:
        inputs = Inputs(observations, at)
        age, sex = demographics.age_years, demographics.sex
        found = egfr_input(inputs, demographics)
        acr = next(((v, o) for o in reversed(inputs.all(LOINC.ACR)) if o.comparator is None
                    and (v := in_unit(o, "mg/g", analyte="acr")) is not None), None)
        missing = [name for name, ok in (
            ("age", age is not None), ("sex", sex is not None),
            ("serum creatinine (LOINC 2160-0 or 14682-9) or eGFR", found is not None),
            ("urine albumin/creatinine ratio (LOINC 32294-1 or 9318-7)", acr is not None)) if not ok]
        if missing or found is None or acr is None or age is None or sex is None:
            return NotEvaluated(self.spec, "missing-input", tuple(missing),
                                "insufficient inputs: missing " + ", ".join(missing))
        egfr, comparator, basis, how = found
        if age < 18:
            return NotEvaluated(self.spec, "not-applicable", (), "the KFRE was developed in adults")
        if comparator is not None or egfr >= 60:
            return NotEvaluated(self.spec, "not-applicable", (),
                                f"the KFRE applies to CKD G3-G5 (eGFR < 60); here {how}")
        acr_mg_g, acr_observed = acr
        if acr_mg_g <= 0:
            return NotEvaluated(self.spec, "invalid-input", ("ACR",), "ACR must be above 0 for its logarithm")
        two = kfre_4_variable(age_years=age, sex=sex, egfr=egfr, acr_mg_g=acr_mg_g, years=2, region=self.region)
        five = kfre_4_variable(age_years=age, sex=sex, egfr=egfr, acr_mg_g=acr_mg_g, years=5, region=self.region)
        risk: RiskLevel = "low" if five < Decimal("0.03") else "moderate" if five <= Decimal("0.05") else "high"
        demographic = "" if "CKD-EPI" in how else f"age {age}, {sex}, "
        inputs_text = (f"{demographic}{how}, ACR {acr_observed.value} {acr_observed.unit}"
                       f" ({acr_mg_g.quantize(Decimal('0.1'))} mg/g)")
        rationale = (f"4-variable KFRE ({self.region} calibration) from {inputs_text}: "
                     f"{_percent(two)} risk of kidney failure in 2 years, {_percent(five)} in 5 years"
                     + ("; above the NICE NG203 referral threshold of 5 % at 5 years." if five > Decimal("0.05")
                        else "."))
        return Finding(
            rule=self.spec,
            predictions=(
                Prediction(KIDNEY_FAILURE, probability=two, risk=risk, within_years=2,
                           rationale=f"{_percent(two)} within 2 years"),
                Prediction(KIDNEY_FAILURE, probability=five, risk=risk, within_years=5,
                           rationale=f"{_percent(five)} within 5 years"),
            ),
            positive=five > Decimal("0.05"), summary=f"KFRE {_percent(two)} at 2 years, {_percent(five)} at 5 years",
            rationale=rationale, basis=(*basis, acr_observed),
            values={"risk_2_year": two, "risk_5_year": five, "egfr": egfr},
        )


def _percent(probability: Decimal) -> str:
    return f"{(probability * 100).quantize(Decimal('0.1'))} %"
