"""What the clinical rules take and give: observations and demographics in, a Finding or NotEvaluated out.

A rule never guesses. When an input it needs is absent, censored where the equation needs a number,
or in a unit it cannot convert, it returns `NotEvaluated` naming what is missing; when the patient is
outside the population the guideline covers (a child for CKD-EPI, eGFR ≥ 60 for KFRE), it says
`not-applicable`. A `Finding` carries the rule's identity and citation, one or more predictions
(outcome coded in SNOMED CT and ICD-10, with a probability or a qualitative risk from the FHIR
risk-probability code system: negligible, low, moderate, high, certain), the rationale in words, the
computed values, and every observation it used, so the RiskAssessment can cite them as its basis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Protocol

__all__ = [
    "Sex", "RiskLevel", "Observed", "Demographics", "Outcome", "Prediction", "RuleSpec", "InputSpec",
    "Finding", "NotEvaluated", "Rule", "RuleResult",
]

Sex = Literal["female", "male"]
RiskLevel = Literal["negligible", "low", "moderate", "high", "certain"]


@dataclass(frozen=True, slots=True)
class Observed:
    """One observation a rule can use: LOINC code, value (a Decimal, or text for coded answers), UCUM unit."""

    loinc: str
    value: Decimal | str
    unit: str | None = None
    comparator: str | None = None
    effective: datetime | None = None
    reference: str | None = None
    display: str | None = None

    @property
    def number(self) -> Decimal | None:
        return self.value if isinstance(self.value, Decimal) else None

    def describe(self) -> str:
        cmp = self.comparator or ""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.display or self.loinc} {cmp}{self.value}{unit}"


@dataclass(frozen=True, slots=True)
class Demographics:
    """The patient facts the rules use; None means unknown, never a default."""

    age_years: int | None = None
    sex: Sex | None = None
    pregnant: bool | None = None

    @classmethod
    def from_birth_date(cls, birth_date: date, *, on: date, sex: Sex | None = None,
                        pregnant: bool | None = None) -> Demographics:
        """Age in whole years on `on`."""
        years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
        return cls(age_years=years, sex=sex, pregnant=pregnant)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The condition or event a prediction is about."""

    text: str
    snomed: str | None = None
    snomed_display: str | None = None
    icd10: str | None = None
    icd10_display: str | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    """One outcome with its probability (0–1) or qualitative risk, over an optional horizon in years."""

    outcome: Outcome
    probability: Decimal | None = None
    risk: RiskLevel | None = None
    risk_text: str | None = None
    within_years: int | None = None
    rationale: str | None = None


@dataclass(frozen=True, slots=True)
class InputSpec:
    """A named input and the LOINC codes that may supply it (empty for demographics)."""

    name: str
    loinc: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule's identity: id, title, the guideline it implements (name, version/year) and citation."""

    id: str
    title: str
    guideline: str
    version: str
    citation: str
    inputs: tuple[InputSpec, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule concluded, from which observations and why."""

    rule: RuleSpec
    predictions: tuple[Prediction, ...]
    positive: bool
    summary: str
    rationale: str
    basis: tuple[Observed, ...]
    values: Mapping[str, Decimal | str | int] = field(default_factory=dict)

    @property
    def rule_id(self) -> str:
        return self.rule.id


@dataclass(frozen=True, slots=True)
class NotEvaluated:
    """Why a rule gave no finding: inputs missing, the patient outside its scope, or inputs unusable."""

    rule: RuleSpec
    reason: Literal["missing-input", "not-applicable", "invalid-input"]
    missing: tuple[str, ...]
    message: str

    @property
    def rule_id(self) -> str:
        return self.rule.id


RuleResult = Finding | NotEvaluated


class Rule(Protocol):
    """A published clinical rule over observations and demographics."""

    spec: RuleSpec

    def evaluate(self, observations: Sequence[Observed], demographics: Demographics, *,
                 at: datetime | None = None) -> RuleResult:
        """The finding for this patient, or why there is none."""
        ...
