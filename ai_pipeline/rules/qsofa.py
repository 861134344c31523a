"""qSOFA (quick Sequential Organ Failure Assessment) for patients with suspected infection.

Singer M et al., "The Third International Consensus Definitions for Sepsis and Septic Shock
(Sepsis-3)", JAMA 2016;315(8):801–810, and Seymour CW et al., JAMA 2016;315(8):762–774: one point
each for respiratory rate ≥ 22/min, altered mentation (Glasgow Coma Scale < 15), systolic blood
pressure ≤ 100 mmHg; a score ≥ 2 identifies adults with suspected infection who are more likely to
have poor outcomes (death in hospital or an ICU stay of 3 days or more).

Mentation comes from a GCS total (LOINC 9269-2) or, failing that, the ACVPU answer (67775-7;
anything but Alert counts as altered). If some inputs are missing but the known ones already decide
the result (two criteria met, or so few left that 2 cannot be reached), the finding is given and names
what was missing; otherwise the rule reports the missing inputs. qSOFA is not a diagnosis of sepsis.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
from ai_pipeline.rules.news2 import consciousness_alert
from ai_pipeline.rules.outcomes import SEPSIS

__all__ = ["QSofa"]


class QSofa:
    """qSOFA score (Sepsis-3)."""

    spec = RuleSpec(
        id="sepsis3-qsofa-2016",
        title="qSOFA (quick SOFA)",
        guideline="Third International Consensus Definitions for Sepsis and Septic Shock (Sepsis-3)",
        version="2016",
        citation="Singer M et al. JAMA 2016;315(8):801-810. Seymour CW et al. JAMA 2016;315(8):762-774.",
        inputs=(InputSpec("respiration rate", LOINC.RESPIRATORY_RATE), InputSpec("systolic BP", LOINC.SYSTOLIC_BP),
                InputSpec("mentation (GCS or ACVPU)", LOINC.GCS_TOTAL + LOINC.CONSCIOUSNESS)),
    )

    def evaluate(self, observations: Sequence[Observed], demographics: Demographics, *,
                 at: datetime | None = None) -> RuleResult:
        inputs = Inputs(observations, at)
        criteria: dict[str, tuple[bool, Observed] | None] = {}
        rr = inputs.quantity(LOINC.RESPIRATORY_RATE, "/min", analyte="rate")
        criteria["respiratory rate ≥ 22/min"] = (rr[0] >= 22, rr[1]) if rr else None
        sbp = inputs.quantity(LOINC.SYSTOLIC_BP, "mm[Hg]", analyte="pressure")
        criteria["systolic BP ≤ 100 mmHg"] = (sbp[0] <= 100, sbp[1]) if sbp else None
        criteria["altered mentation"] = _mentation(inputs)
        known = {name: found for name, found in criteria.items() if found is not None}
        score = sum(1 for met, _ in known.values() if met)
        missing = tuple(name for name, found in criteria.items() if found is None)
        if missing and score < 2 and score + len(missing) >= 2:
            return NotEvaluated(self.spec, "missing-input", missing,
                                "insufficient inputs: missing " + ", ".join(missing))
        met_names = [name for name, (met, _) in known.items() if met]
        rationale = (f"qSOFA {score}" + (f" ({', '.join(met_names)})" if met_names else "")
                     + (f"; not measured: {', '.join(missing)}, which cannot change the result" if missing else "")
                     + (": high risk of a poor outcome if infection is suspected." if score >= 2
                        else ": not in the high-risk range."))
        return Finding(
            rule=self.spec,
            predictions=(Prediction(SEPSIS, risk="high" if score >= 2 else "low", risk_text=f"qSOFA {score}",
                                    rationale=rationale),),
            positive=score >= 2, summary=f"qSOFA {score}", rationale=rationale,
            basis=tuple(observed for _, observed in known.values()), values={"score": score},
        )


def _mentation(inputs: Inputs) -> tuple[bool, Observed] | None:
    gcs = inputs.latest(LOINC.GCS_TOTAL)
    if gcs is not None and gcs.number is not None:
        return gcs.number < 15, gcs
    acvpu = inputs.latest(LOINC.CONSCIOUSNESS)
    if acvpu is not None:
        alert = consciousness_alert(str(acvpu.value))
        if alert is not None:
            return not alert, acvpu
    return None
