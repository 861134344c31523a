"""Hyperkalaemia and hyponatraemia by published thresholds, with severity.

Hyperkalaemia — UK Kidney Association, "Clinical Practice Guidelines: Treatment of Acute Hyperkalaemia
in Adults", 2020 (update 2023): serum potassium mild 5.5–5.9, moderate 6.0–6.4, severe ≥ 6.5 mmol/L.

Hyponatraemia — Spasovski G et al., "Clinical practice guideline on diagnosis and treatment of
hyponatraemia", Eur J Endocrinol 2014;170(3):G1–G47 (ESE/ESICM/ERA-EDTA), section 3 (classification
by biochemical severity): mild 130–135, moderate 125–129, profound < 125 mmol/L; hyponatraemia is
below 135.

mmol/L and mEq/L are the same for these monovalent ions. A haemolysed sample can raise potassium
falsely; the rationale says so and the clinician decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ai_pipeline.rules.inputs import LOINC, Inputs
from ai_pipeline.rules.model import (
    Demographics,
    Finding,
    InputSpec,
    NotEvaluated,
    Observed,
    Outcome,
    Prediction,
    RuleResult,
    RuleSpec,
)
from ai_pipeline.rules.outcomes import HYPERKALAEMIA, HYPONATRAEMIA

__all__ = ["Hyperkalaemia", "Hyponatraemia", "potassium_severity", "sodium_severity"]


def potassium_severity(potassium: Decimal) -> str:
    """"none", "mild", "moderate" or "severe" (UKKA 2020) for serum potassium in mmol/L."""
    if potassium >= Decimal("6.5"):
        return "severe"
    if potassium >= Decimal("6.0"):
        return "moderate"
    return "mild" if potassium >= Decimal("5.5") else "none"


def sodium_severity(sodium: Decimal) -> str:
    """"none", "mild", "moderate" or "profound" (Spasovski 2014) for serum sodium in mmol/L."""
    if sodium < 125:
        return "profound"
    if sodium < 130:
        return "moderate"
    return "mild" if sodium < 135 else "none"


class _Threshold:
    spec: RuleSpec
    codes: tuple[str, ...]
    analyte: str
    outcome: Outcome
    caveat: str = ""

    def grade(self, value: Decimal) -> str:
        raise NotImplementedError

    def evaluate(self, observations: Sequence[Observed], demographics: Demographics, *,
                 at: datetime | None = None) -> RuleResult:
        found = Inputs(observations, at).quantity(self.codes, "mmol/L", analyte="electrolyte")
        if found is None:
            name = self.spec.inputs[0].name
            return NotEvaluated(self.spec, "missing-input", (name,),
                                f"insufficient inputs: missing {name} (LOINC {' or '.join(self.codes)}) in mmol/L")
        value, observed = found
        severity = self.grade(value)
        verdict = "none" if severity == "none" else f"{severity} {self.outcome.text.lower()}"
        rationale = (f"{self.spec.inputs[0].name} {observed.value} {observed.unit}: "
                     + (f"not {self.outcome.text.lower()}" if severity == "none" else verdict)
                     + f" by the {self.spec.guideline} ({self.spec.version}) thresholds."
                     + (self.caveat if severity != "none" else ""))
        prediction = Prediction(self.outcome, risk="low" if severity == "none" else "high",
                                risk_text=severity, rationale=rationale)
        return Finding(self.spec, (prediction,), severity != "none",
                       verdict.capitalize() if severity != "none" else f"No {self.outcome.text.lower()}",
                       rationale, (observed,), {"severity": severity})


class Hyperkalaemia(_Threshold):
    """Serum potassium against the UK Kidney Association thresholds."""

    spec = RuleSpec(
        id="ukka-hyperkalaemia-2020",
        title="Hyperkalaemia and its severity",
        guideline="UK Kidney Association guideline on treatment of acute hyperkalaemia in adults",
        version="2020",
        citation="UK Kidney Association. Clinical Practice Guidelines: Treatment of Acute Hyperkalaemia in "
                 "Adults. 2020.",
        inputs=(InputSpec("serum potassium", LOINC.POTASSIUM),),
    )
    codes = LOINC.POTASSIUM
    outcome = HYPERKALAEMIA
    caveat = " Exclude a haemolysed or delayed sample (pseudohyperkalaemia) before acting."

    def grade(self, value: Decimal) -> str:
        return potassium_severity(value)


class Hyponatraemia(_Threshold):
    """Serum sodium against the European hyponatraemia guideline's biochemical severity."""

    spec = RuleSpec(
        id="ese-hyponatraemia-2014",
        title="Hyponatraemia and its biochemical severity",
        guideline="European clinical practice guideline on hyponatraemia (ESE/ESICM/ERA-EDTA)",
        version="2014",
        citation="Spasovski G et al. Eur J Endocrinol 2014;170(3):G1-G47.",
        inputs=(InputSpec("serum sodium", LOINC.SODIUM),),
    )
    codes = LOINC.SODIUM
    outcome = HYPONATRAEMIA

    def grade(self, value: Decimal) -> str:
        return sodium_severity(value)
