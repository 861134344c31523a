"""The registry of clinical rules and the one call that runs them.

    results = evaluate(observations, demographics)               # every registered rule
    results = evaluate(observations, demographics, rules=["kfre-4-variable"], at=when)

Each result is a `Finding` or a `NotEvaluated` (never an exception for missing or odd data), in
registry order. `default_rules()` builds the rules with their default settings (KFRE with the
non-North-American calibration); a deployment can pass its own instances.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from ai_pipeline.rules.aki import KdigoAki
from ai_pipeline.rules.anaemia import WhoAnaemia
from ai_pipeline.rules.diabetes import AdaDiabetes
from ai_pipeline.rules.electrolytes import Hyperkalaemia, Hyponatraemia
from ai_pipeline.rules.kfre import Kfre4, Region
from ai_pipeline.rules.kidney import CkdEpi2021
from ai_pipeline.rules.model import Demographics, Observed, Rule, RuleResult
from ai_pipeline.rules.news2 import News2
from ai_pipeline.rules.qsofa import QSofa

__all__ = ["default_rules", "RULES", "evaluate"]


def default_rules(*, kfre_region: Region = "non-north-america") -> dict[str, Rule]:
    """Every rule, keyed by its id."""
    rules: list[Rule] = [
        CkdEpi2021(), Kfre4(kfre_region), KdigoAki(), AdaDiabetes(), WhoAnaemia(), Hyperkalaemia(),
        Hyponatraemia(), News2(), QSofa(),
    ]
    return {rule.spec.id: rule for rule in rules}


RULES: Mapping[str, Rule] = default_rules()


def evaluate(observations: Sequence[Observed], demographics: Demographics, *, at: datetime | None = None,
             rules: Iterable[str] | Mapping[str, Rule] | None = None) -> list[RuleResult]:
    """Run rules (all registered, a list of ids, or a mapping of instances) over one patient's data."""
    if rules is None:
        chosen: Mapping[str, Rule] = RULES
    elif isinstance(rules, Mapping):
        chosen = rules
    else:
        ids = list(rules)
        unknown = [rule_id for rule_id in ids if rule_id not in RULES]
        if unknown:
            raise KeyError(f"unknown rule id(s): {', '.join(unknown)}")
        chosen = {rule_id: RULES[rule_id] for rule_id in ids}
    return [rule.evaluate(observations, demographics, at=at) for rule in chosen.values()]
