"""ADA criteria for diabetes and prediabetes from HbA1c and fasting plasma glucose.

American Diabetes Association Professional Practice Committee, "2. Diagnosis and Classification of
Diabetes: Standards of Care in Diabetes—2025", Diabetes Care 2025;48(Suppl 1):S27–S49 (the criteria
for diabetes and for prediabetes in non-pregnant individuals):

- diabetes: A1C ≥ 6.5 % (48 mmol/mol), or fasting plasma glucose ≥ 126 mg/dL (7.0 mmol/L);
- prediabetes: A1C 5.7–6.4 % (39–47 mmol/mol), or FPG 100–125 mg/dL (5.6–6.9 mmol/L).

The guideline states each threshold in both unit systems, so a value is compared with the threshold
in its own unit (converting 126 mg/dL gives 6.99 mmol/L, which would misclassify 7.0). In the absence
of unequivocal hyperglycaemia the diagnosis needs two abnormal results (two tests from one sample, or
one test on two occasions): one result in the diabetes range gives risk "high", two give "certain".
The 2-hour OGTT and random glucose with symptoms are not inputs here (symptoms are not observations).
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
    Prediction,
    RuleResult,
    RuleSpec,
)
from ai_pipeline.rules.outcomes import DIABETES, PREDIABETES

__all__ = ["AdaDiabetes", "classify_glycaemia"]

# unit → (prediabetes from, diabetes from)
_THRESHOLDS: dict[str, dict[str, tuple[Decimal, Decimal]]] = {
    "hba1c": {"%": (Decimal("5.7"), Decimal("6.5")), "mmol/mol": (Decimal(39), Decimal(48))},
    "fpg": {"mg/dL": (Decimal(100), Decimal(126)), "mmol/L": (Decimal("5.6"), Decimal("7.0"))},
}


def classify_glycaemia(test: str, value: Decimal, unit: str) -> str | None:
    """"diabetes", "prediabetes" or "normal" for an HbA1c ("hba1c") or fasting glucose ("fpg"); None if unit unknown."""
    bands = _THRESHOLDS[test].get(unit)
    if bands is None:
        return None
    if value >= bands[1]:
        return "diabetes"
    return "prediabetes" if value >= bands[0] else "normal"


class AdaDiabetes:
    """ADA Standards of Care diagnostic criteria (HbA1c, fasting plasma glucose)."""

    spec = RuleSpec(
        id="ada-diabetes-2025",
        title="ADA diagnostic criteria for diabetes and prediabetes",
        guideline="ADA Standards of Care in Diabetes, section 2",
        version="2025",
        citation="American Diabetes Association Professional Practice Committee. Diabetes Care 2025;48(Suppl 1):S27-S49.",
        inputs=(InputSpec("HbA1c", LOINC.HBA1C), InputSpec("fasting plasma glucose", LOINC.FASTING_GLUCOSE)),
    )

    def evaluate(self, observations: Sequence[Observed], demographics: Demographics, *,
                 at: datetime | None = None) -> RuleResult:
        inputs = Inputs(observations, at)
        graded: list[tuple[str, Observed]] = []
        for test, codes in (("hba1c", LOINC.HBA1C), ("fpg", LOINC.FASTING_GLUCOSE)):
            for observed in inputs.all(codes)[-2:]:
                if observed.number is None or observed.unit is None or observed.comparator is not None:
                    continue
                grade = classify_glycaemia(test, observed.number, observed.unit)
                if grade is not None:
                    graded.append((grade, observed))
        if not graded:
            return NotEvaluated(self.spec, "missing-input", ("HbA1c or fasting plasma glucose",),
                                "insufficient inputs: missing HbA1c (LOINC 4548-4 or 59261-8) or fasting plasma "
                                "glucose (LOINC 1558-6 or 14771-0) in a known unit")
        diabetic = [o for grade, o in graded if grade == "diabetes"]
        pre = [o for grade, o in graded if grade == "prediabetes"]
        listed = "; ".join(f"{o.describe()}: {grade}" for grade, o in graded)
        if diabetic:
            confirmed = len(diabetic) >= 2
            rationale = (f"{listed}. {len(diabetic)} result(s) in the ADA diabetes range"
                         + (", which confirms the diagnosis." if confirmed
                            else "; ADA requires a second abnormal result to confirm."))
            prediction = Prediction(DIABETES, risk="certain" if confirmed else "high",
                                    risk_text="diabetes range" + (" (confirmed)" if confirmed else " (unconfirmed)"),
                                    rationale=rationale)
            return Finding(self.spec, (prediction,), True, "Diabetes range by ADA criteria", rationale,
                           tuple(diabetic), {"category": "diabetes"})
        if pre:
            rationale = f"{listed}. In the ADA prediabetes range (increased risk of diabetes)."
            prediction = Prediction(PREDIABETES, risk="high", risk_text="prediabetes range", rationale=rationale)
            return Finding(self.spec, (prediction,), True, "Prediabetes range by ADA criteria", rationale,
                           tuple(pre), {"category": "prediabetes"})
        rationale = f"{listed}. Below the ADA prediabetes thresholds."
        prediction = Prediction(DIABETES, risk="low", risk_text="normal glycaemia", rationale=rationale)
        return Finding(self.spec, (prediction,), False, "Normal glycaemia by ADA criteria", rationale,
                       tuple(o for _, o in graded), {"category": "normal"})
