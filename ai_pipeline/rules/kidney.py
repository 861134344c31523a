"""CKD-EPI 2021 eGFR (race-free) with KDIGO G and A categories and the KDIGO prognosis heat map.

Equation (Inker LA et al., "New creatinine- and cystatin C-based equations to estimate GFR without
race", N Engl J Med 2021;385:1737–1749):

    eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age × 1.012 [if female]
    κ = 0.7 (female) or 0.9 (male); α = −0.241 (female) or −0.302 (male); Scr in mg/dL (µmol/L ÷ 88.4)

for adults (18 and over). The result is rounded to a whole number, as KDIGO recommends reporting it.
Categories (KDIGO 2024 Clinical Practice Guideline for the Evaluation and Management of CKD, Kidney
Int 2024;105(4S):S117–S314, the GFR and albuminuria categories and the prognosis heat map): G1 ≥ 90, G2 60–89, G3a 45–59, G3b 30–44, G4 15–29,
G5 < 15 mL/min/1.73 m²; A1 < 3 mg/mmol (< 30 mg/g), A2 3–30 (30–300), A3 > 30 (> 300). The heat
map gives the prognosis: low, moderately increased, high, very high. When albuminuria is unknown the
finding gives the heat map's floor for the G category and says so. CKD needs the abnormality to last
more than 3 months; one result can only suggest it.

Without a creatinine (or without age and sex to use it) the rule falls back to a laboratory-reported
eGFR, including censored reports such as `>90`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from ai_pipeline.rules.inputs import LOINC, Inputs
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
from ai_pipeline.rules.outcomes import CKD, CKD_BY_G

__all__ = ["CkdEpi2021", "ckd_epi_2021", "g_category", "a_category", "kdigo_risk", "egfr_input"]

EGFR_UNIT = "mL/min/{1.73_m2}"


def ckd_epi_2021(creatinine_mg_dl: Decimal, age_years: int, sex: Sex) -> Decimal:
    """eGFR in mL/min/1.73 m² by the 2021 CKD-EPI creatinine equation, rounded to a whole number."""
    female = sex == "female"
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = float(creatinine_mg_dl) / kappa
    egfr = 142 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938 ** age_years
    if female:
        egfr *= 1.012
    return Decimal(repr(egfr)).quantize(Decimal(1), rounding=ROUND_HALF_UP)


_G_BANDS = ((Decimal(90), "G1"), (Decimal(60), "G2"), (Decimal(45), "G3a"), (Decimal(30), "G3b"),
            (Decimal(15), "G4"), (Decimal(0), "G5"))


def g_category(egfr: Decimal, comparator: str | None = None) -> str | None:
    """KDIGO G category of a whole-number eGFR; `>60` gives "G1-G2"; None when a censored value cannot decide."""
    if comparator in (">", ">="):
        if egfr >= 90:
            return "G1"
        return "G1-G2" if egfr >= 60 else None
    if comparator in ("<", "<="):
        return "G5" if egfr <= 15 else None
    return next(name for bound, name in _G_BANDS if egfr >= bound)


def a_category(acr: Decimal, unit: str, comparator: str | None = None) -> str | None:
    """KDIGO A category from an albumin/creatinine ratio in mg/mmol or mg/g."""
    low, high = (Decimal(3), Decimal(30)) if unit == "mg/mmol" else (Decimal(30), Decimal(300))
    if comparator in ("<", "<="):
        return "A1" if acr <= low else None
    if comparator in (">", ">="):
        return "A3" if acr >= high else None
    if acr < low:
        return "A1"
    return "A2" if acr <= high else "A3"


_HEAT_MAP: dict[str, tuple[RiskLevel, RiskLevel, RiskLevel]] = {
    "G1": ("low", "moderate", "high"), "G2": ("low", "moderate", "high"), "G1-G2": ("low", "moderate", "high"),
    "G3a": ("moderate", "high", "high"), "G3b": ("high", "high", "high"),
    "G4": ("high", "high", "high"), "G5": ("high", "high", "high"),
}
_HEAT_WORDS = {
    "G1": ("low", "moderately increased", "high"), "G2": ("low", "moderately increased", "high"),
    "G1-G2": ("low", "moderately increased", "high"),
    "G3a": ("moderately increased", "high", "very high"), "G3b": ("high", "very high", "very high"),
    "G4": ("very high", "very high", "very high"), "G5": ("very high", "very high", "very high"),
}


def kdigo_risk(g: str, a: str | None) -> tuple[RiskLevel, str]:
    """KDIGO heat-map risk (as a FHIR risk-probability code and in KDIGO's words) for G and A categories."""
    column = {"A1": 0, "A2": 1, "A3": 2}.get(a or "A1", 0)
    words = _HEAT_WORDS[g][column]
    if a is None:
        words = f"at least {words} (albuminuria not measured)"
    return _HEAT_MAP[g][column], words


def egfr_input(inputs: Inputs, demographics: Demographics) -> tuple[Decimal, str | None, list[Observed], str] | None:
    """eGFR from creatinine by CKD-EPI 2021 when possible, else a reported eGFR: (value, comparator, basis, how)."""
    creatinine = inputs.quantity(LOINC.CREATININE, "mg/dL", analyte="creatinine")
    age, sex = demographics.age_years, demographics.sex
    if creatinine is not None and age is not None and sex is not None and age >= 18:
        value, observed = creatinine
        egfr = ckd_epi_2021(value, age, sex)
        how = (f"eGFR {egfr} mL/min/1.73 m² by CKD-EPI 2021 from creatinine {observed.value} {observed.unit} "
               f"({value.quantize(Decimal('0.01'))} mg/dL), age {age}, {sex}")
        return egfr, None, [observed], how
    reported = inputs.latest(LOINC.EGFR)
    if reported is not None and reported.number is not None and reported.unit in (EGFR_UNIT, None):
        value = reported.number.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return value, reported.comparator, [reported], f"eGFR {reported.comparator or ''}{value} as reported"
    return None


class CkdEpi2021:
    """eGFR (CKD-EPI 2021) and KDIGO CKD staging with the prognosis heat map."""

    spec = RuleSpec(
        id="ckd-epi-2021-kdigo",
        title="eGFR (CKD-EPI 2021) and KDIGO CKD category",
        guideline="CKD-EPI 2021 creatinine equation; KDIGO Clinical Practice Guideline for CKD",
        version="2021 equation; KDIGO 2024",
        citation=("Inker LA et al. N Engl J Med 2021;385:1737-1749. KDIGO 2024 Clinical Practice Guideline for "
                  "the Evaluation and Management of CKD. Kidney Int 2024;105(4S):S117-S314."),
        inputs=(
            InputSpec("serum creatinine", LOINC.CREATININE), InputSpec("age"), InputSpec("sex"),
            InputSpec("reported eGFR (instead of creatinine, age and sex)", LOINC.EGFR, required=False),
            InputSpec("urine albumin/creatinine ratio", LOINC.ACR, required=False),
        ),
    )

    def evaluate(self, observations: Sequence[Observed], demographics: Demographics, *,
                 at: datetime | None = None) -> RuleResult:
        inputs = Inputs(observations, at)
        if demographics.age_years is not None and demographics.age_years < 18:
            return NotEvaluated(self.spec, "not-applicable", (), "CKD-EPI 2021 is validated for adults (18 and over)")
        found = egfr_input(inputs, demographics)
        if found is None:
            missing = [m for m, ok in (
                ("serum creatinine (LOINC 2160-0 or 14682-9)", inputs.latest(LOINC.CREATININE) is not None),
                ("age", demographics.age_years is not None), ("sex", demographics.sex is not None)) if not ok]
            return NotEvaluated(self.spec, "missing-input", tuple(missing),
                                "insufficient inputs: missing " + ", ".join(missing)
                                + " (or a reported eGFR, LOINC 98979-8)")
        egfr, comparator, basis, how = found
        g = g_category(egfr, comparator)
        if g is None:
            return NotEvaluated(self.spec, "invalid-input", ("eGFR",), f"a censored eGFR ({how}) decides no category")
        a, acr_text = None, "albuminuria not measured"
        acr = inputs.latest(LOINC.ACR)
        if acr is not None and acr.number is not None and acr.unit in ("mg/mmol", "mg/g"):
            a = a_category(acr.number, acr.unit, acr.comparator)
            if a is not None:
                basis.append(acr)
                acr_text = f"ACR {acr.comparator or ''}{acr.value} {acr.unit} ({a})"
        risk, words = kdigo_risk(g, a)
        positive = g not in ("G1", "G2", "G1-G2") or a in ("A2", "A3")
        category = f"{g} {a}" if a else g
        outcome = CKD_BY_G.get(g, CKD) if positive else CKD
        verdict = ("meets the KDIGO criteria for CKD if it persists for more than 3 months" if positive
                   else "does not by itself indicate CKD")
        rationale = f"{how}; KDIGO category {category} ({acr_text}); KDIGO prognosis: {words} risk; {verdict}."
        return Finding(
            rule=self.spec,
            predictions=(Prediction(outcome, risk=risk, risk_text=f"KDIGO {category}: {words} risk",
                                    rationale=rationale),),
            positive=positive, summary=f"eGFR {comparator or ''}{egfr} mL/min/1.73 m², KDIGO {category}",
            rationale=rationale, basis=tuple(basis),
            values={"egfr": egfr, "g_category": g, **({"a_category": a} if a else {})},
        )
