"""KDIGO acute kidney injury staging from a rise in serum creatinine.

KDIGO Clinical Practice Guideline for Acute Kidney Injury, Kidney Int Suppl 2012;2:1–138,
recommendations 2.1.1 and 2.1.2 (creatinine criteria only; urine output is not an input here):

- AKI: a rise of ≥ 0.3 mg/dL (≥ 26.5 µmol/L) within 48 hours, or to ≥ 1.5 × baseline known or presumed
  to have occurred within the prior 7 days;
- stage 1: 1.5–1.9 × baseline, or the ≥ 26.5 µmol/L rise; stage 2: 2.0–2.9 ×; stage 3: ≥ 3.0 ×, or a
  rise to ≥ 4.0 mg/dL (≥ 353.6 µmol/L) (renal replacement therapy, the other stage-3 criterion, is not
  an input).

The current value is the latest dated creatinine; the baseline is the lowest dated creatinine in the
7 days before it (48 hours for the absolute rise), the reference-value choice of the NHS England AKI
algorithm (2014). Without an earlier dated result in that window the rule reports the missing input.
Values are compared in µmol/L (mg/dL × 88.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from ai_pipeline.rules.inputs import LOINC, Inputs, in_unit
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
from ai_pipeline.rules.outcomes import AKI

__all__ = ["KdigoAki", "aki_stage"]

_RISE = Decimal("26.5")
_STAGE3_LEVEL = Decimal("353.6")


def aki_stage(current: Decimal, baseline_7d: Decimal, baseline_48h: Decimal | None) -> int:
    """KDIGO stage 0–3 from creatinine values in µmol/L."""
    ratio = current / baseline_7d
    rise = baseline_48h is not None and current - baseline_48h >= _RISE
    if ratio >= 3 or (current >= _STAGE3_LEVEL and (ratio >= Decimal("1.5") or rise)):
        return 3
    if ratio >= 2:
        return 2
    if ratio >= Decimal("1.5") or rise:
        return 1
    return 0


def _gap(a: datetime, b: datetime) -> timedelta:
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return a - b


class KdigoAki:
    """KDIGO AKI stage from creatinine now versus the lowest value of the previous 48 h and 7 days."""

    spec = RuleSpec(
        id="kdigo-aki-2012",
        title="KDIGO acute kidney injury stage (creatinine criteria)",
        guideline="KDIGO Clinical Practice Guideline for Acute Kidney Injury",
        version="2012",
        citation="KDIGO AKI Work Group. Kidney Int Suppl 2012;2:1-138, recommendations 2.1.1-2.1.2.",
        inputs=(InputSpec("serum creatinine, current and within the previous 7 days (dated)", LOINC.CREATININE),),
    )

    def evaluate(self, observations: Sequence[Observed], demographics: Demographics, *,
                 at: datetime | None = None) -> RuleResult:
        series = [(v, o, o.effective) for o in Inputs(observations, at).all(LOINC.CREATININE)
                  if o.effective is not None and o.comparator is None
                  and (v := in_unit(o, "umol/L", analyte="creatinine")) is not None]
        if not series:
            return NotEvaluated(self.spec, "missing-input", ("dated serum creatinine",),
                                "insufficient inputs: missing a dated serum creatinine (LOINC 2160-0 or 14682-9)")
        current, current_obs, now = series[-1]
        week = [(v, o, when) for v, o, when in series[:-1] if timedelta(0) <= _gap(now, when) <= timedelta(days=7)]
        if not week:
            return NotEvaluated(self.spec, "missing-input", ("baseline creatinine within 7 days",),
                                "insufficient inputs: missing a creatinine from the 7 days before the latest one")
        baseline, baseline_obs, _ = min(week, key=lambda entry: entry[0])
        two_days = [(v, o) for v, o, when in week if _gap(now, when) <= timedelta(hours=48)]
        lowest_48h = min(two_days, key=lambda pair: pair[0]) if two_days else None
        stage = aki_stage(current, baseline, lowest_48h[0] if lowest_48h else None)
        ratio = (current / baseline).quantize(Decimal("0.01"))
        parts = [f"creatinine {current.normalize():f} µmol/L now vs lowest {baseline.normalize():f} µmol/L in the "
                 f"previous 7 days (× {ratio})"]
        if lowest_48h is not None:
            parts.append(f"rise of {(current - lowest_48h[0]).normalize():f} µmol/L within 48 h")
        verdict = f"KDIGO AKI stage {stage}" if stage else "no AKI by KDIGO creatinine criteria"
        rationale = "; ".join(parts) + f": {verdict}."
        basis = [current_obs, baseline_obs] + ([lowest_48h[1]] if lowest_48h and lowest_48h[1] is not baseline_obs
                                               else [])
        return Finding(
            rule=self.spec,
            predictions=(Prediction(AKI, risk="high" if stage else "low",
                                    risk_text=verdict, rationale=rationale),),
            positive=stage > 0, summary=verdict, rationale=rationale, basis=tuple(basis),
            values={"stage": stage, "ratio": ratio},
        )
