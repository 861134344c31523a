"""Published clinical rules over observations: each returns a cited Finding or says what it is missing.

    from ai_pipeline.rules import Demographics, Observed, evaluate, observed_from_fhir

    observations = [o for resource in patient_observations for o in observed_from_fhir(resource)]
    for result in evaluate(observations, Demographics(age_years=67, sex="female")):
        ...  # Finding (rule, predictions, rationale, basis) or NotEvaluated (reason, missing)
"""

from ai_pipeline.rules.aki import KdigoAki
from ai_pipeline.rules.anaemia import WhoAnaemia
from ai_pipeline.rules.diabetes import AdaDiabetes
from ai_pipeline.rules.electrolytes import Hyperkalaemia, Hyponatraemia
from ai_pipeline.rules.inputs import LOINC, observed_from_fhir
from ai_pipeline.rules.kfre import Kfre4
from ai_pipeline.rules.kidney import CkdEpi2021
from ai_pipeline.rules.model import (
    Demographics,
    Finding,
    InputSpec,
    NotEvaluated,
    Observed,
    Outcome,
    Prediction,
    Rule,
    RuleResult,
    RuleSpec,
)
from ai_pipeline.rules.news2 import News2
from ai_pipeline.rules.qsofa import QSofa
from ai_pipeline.rules.registry import RULES, default_rules, evaluate

__all__ = [
    "Demographics", "Observed", "Finding", "NotEvaluated", "Outcome", "Prediction", "Rule", "RuleResult",
    "RuleSpec", "InputSpec", "LOINC", "RULES", "default_rules", "evaluate", "observed_from_fhir",
    "CkdEpi2021", "Kfre4", "KdigoAki", "AdaDiabetes", "WhoAnaemia", "Hyperkalaemia", "Hyponatraemia", "News2",
    "QSofa",
]
