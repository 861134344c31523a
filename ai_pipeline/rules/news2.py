"""NEWS2 (National Early Warning Score 2) from vital signs, SpO2 scale 1.

Royal College of Physicians, "National Early Warning Score (NEWS) 2: Standardising the assessment of
acute-illness severity in the NHS", London: RCP, 2017 — the NEWS2 observation chart (Chart 1) and the
clinical-response thresholds (Table 2 / Chart 3):

| parameter                | 3      | 2       | 1         | 0         | 1         | 2         | 3      |
|--------------------------|--------|---------|-----------|-----------|-----------|-----------|--------|
| respiration rate /min    | ≤ 8    |         | 9–11      | 12–20     |           | 21–24     | ≥ 25   |
| SpO2 scale 1 %           | ≤ 91   | 92–93   | 94–95     | ≥ 96      |           |           |        |
| air or oxygen            |        | oxygen  |           | air       |           |           |        |
| systolic BP mmHg         | ≤ 90   | 91–100  | 101–110   | 111–219   |           |           | ≥ 220  |
| pulse /min               | ≤ 40   |         | 41–50     | 51–90     | 91–110    | 111–130   | ≥ 131  |
| consciousness            |        |         |           | alert     |           |           | CVPU   |
| temperature °C           | ≤ 35.0 |         | 35.1–36.0 | 36.1–38.0 | 38.1–39.0 | ≥ 39.1    |        |

Aggregate 0–4 low clinical risk (but a 3 in any one parameter is low–medium: urgent ward-based
response), 5–6 medium (urgent response), ≥ 7 high (emergency response). SpO2 scale 2 (target 88–92 %
in hypercapnic respiratory failure) is a clinical decision and is not implemented: this rule scores
scale 1 and says so. Oxygen is "on" when an inhaled O2 flow (LOINC 3151-8) is above 0 or an inhaled O2
concentration (3150-0) is above 21 %. Consciousness is the ACVPU answer (67775-7): Alert, or new
Confusion, Voice, Pain, Unresponsive. Every parameter is required: a partial NEWS2 is not a NEWS2.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ai_pipeline.rules.inputs import LOINC, Inputs, in_unit
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
)
from ai_pipeline.rules.outcomes import DETERIORATION

__all__ = ["News2", "news2_points", "consciousness_alert"]

# (upper bound inclusive, points) ascending; the last bound is infinite
_BANDS: dict[str, tuple[tuple[Decimal | None, int], ...]] = {
    "respiration rate": ((Decimal(8), 3), (Decimal(11), 1), (Decimal(20), 0), (Decimal(24), 2), (None, 3)),
    "SpO2": ((Decimal(91), 3), (Decimal(93), 2), (Decimal(95), 1), (None, 0)),
    "systolic BP": ((Decimal(90), 3), (Decimal(100), 2), (Decimal(110), 1), (Decimal(219), 0), (None, 3)),
    "pulse": ((Decimal(40), 3), (Decimal(50), 1), (Decimal(90), 0), (Decimal(110), 1), (Decimal(130), 2), (None, 3)),
    "temperature": ((Decimal("35.0"), 3), (Decimal("36.0"), 1), (Decimal("38.0"), 0), (Decimal("39.0"), 1), (None, 2)),
}


def news2_points(parameter: str, value: Decimal) -> int:
    """Points for one numeric parameter on the NEWS2 chart (SpO2 scale 1)."""
    for bound, points in _BANDS[parameter]:
        if bound is None or value <= bound:
            return points
    raise AssertionError("unreachable: the last band is open")


def consciousness_alert(answer: str) -> bool | None:
    """True for Alert, False for new Confusion/Voice/Pain/Unresponsive, None if not an ACVPU answer."""
    word = answer.strip().lower()
    if word in ("a", "alert"):
        return True
    if word in ("c", "v", "p", "u") or word.startswith(("confus", "new confus", "voice", "verbal", "pain", "unresp")):
        return False
    return None


class News2:
    """NEWS2 aggregate score and clinical risk band."""

    spec = RuleSpec(
        id="rcp-news2-2017",
        title="National Early Warning Score 2 (SpO2 scale 1)",
        guideline="Royal College of Physicians NEWS2",
        version="2017",
        citation="Royal College of Physicians. National Early Warning Score (NEWS) 2. London: RCP, 2017.",
        inputs=(InputSpec("respiration rate", LOINC.RESPIRATORY_RATE), InputSpec("SpO2", LOINC.SPO2),
                InputSpec("supplemental oxygen (O2 flow or inhaled O2 %)", LOINC.OXYGEN_FLOW + LOINC.INHALED_OXYGEN),
                InputSpec("systolic BP", LOINC.SYSTOLIC_BP), InputSpec("pulse", LOINC.HEART_RATE),
                InputSpec("consciousness (ACVPU)", LOINC.CONSCIOUSNESS),
                InputSpec("temperature", LOINC.TEMPERATURE)),
    )

    def evaluate(self, observations: Sequence[Observed], demographics: Demographics, *,
                 at: datetime | None = None) -> RuleResult:
        inputs = Inputs(observations, at)
        numeric = {
            "respiration rate": inputs.quantity(LOINC.RESPIRATORY_RATE, "/min", analyte="rate"),
            "SpO2": inputs.quantity(LOINC.SPO2, "%", analyte="saturation"),
            "systolic BP": inputs.quantity(LOINC.SYSTOLIC_BP, "mm[Hg]", analyte="pressure"),
            "pulse": inputs.quantity(LOINC.HEART_RATE, "/min", analyte="rate"),
            "temperature": inputs.quantity(LOINC.TEMPERATURE, "Cel", analyte="temperature"),
        }
        oxygen = _oxygen(inputs)
        acvpu = inputs.latest(LOINC.CONSCIOUSNESS)
        alert = consciousness_alert(str(acvpu.value)) if acvpu is not None else None
        missing = [name for name, found in numeric.items() if found is None]
        if oxygen is None:
            missing.append("supplemental oxygen (LOINC 3151-8 or 3150-0)")
        if alert is None:
            missing.append("consciousness (ACVPU, LOINC 67775-7)")
        if missing:
            return NotEvaluated(self.spec, "missing-input", tuple(missing),
                                "insufficient inputs: missing " + ", ".join(missing))
        assert oxygen is not None and acvpu is not None
        points: dict[str, int] = {}
        basis: list[Observed] = []
        for name, found in numeric.items():
            assert found is not None
            points[name] = news2_points(name, found[0])
            basis.append(found[1])
        on_oxygen, oxygen_observed = oxygen
        points["air or oxygen"] = 2 if on_oxygen else 0
        points["consciousness"] = 0 if alert else 3
        basis += [oxygen_observed, acvpu]
        score = sum(points.values())
        risk, band = _band(score, max(points.values()))
        detail = ", ".join(f"{name} {points[name]}" for name in points)
        rationale = f"NEWS2 {score} ({detail}): {band} clinical risk."
        return Finding(
            rule=self.spec,
            predictions=(Prediction(DETERIORATION, risk=risk, risk_text=f"NEWS2 {score}: {band}", rationale=rationale),),
            positive=score >= 5 or max(points.values()) == 3, summary=f"NEWS2 {score} ({band})",
            rationale=rationale, basis=tuple(basis), values={"score": score, **points},
        )


def _oxygen(inputs: Inputs) -> tuple[bool, Observed] | None:
    flow = inputs.latest(LOINC.OXYGEN_FLOW)
    if flow is not None and flow.number is not None:
        return flow.number > 0, flow
    fraction = inputs.latest(LOINC.INHALED_OXYGEN)
    if fraction is not None:
        percent = in_unit(fraction, "%", analyte="fraction")
        if percent is not None:
            return percent > 21, fraction
    return None


def _band(score: int, highest: int) -> tuple[RiskLevel, str]:
    if score >= 7:
        return "high", "high"
    if score >= 5:
        return "moderate", "medium"
    if highest == 3:
        return "moderate", "low-medium"
    return "low", "low"
