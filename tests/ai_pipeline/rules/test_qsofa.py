"""qSOFA (Singer et al., JAMA 2016;315:801): RR ≥ 22, altered mentation (GCS < 15), SBP ≤ 100; ≥ 2 is high risk."""

from decimal import Decimal as D

from ai_pipeline.rules import Demographics, Finding, NotEvaluated, Observed, QSofa


def test_two_criteria_met():
    observations = [Observed("9279-1", D("22"), "/min"), Observed("8480-6", D("100"), "mm[Hg]"),
                    Observed("9269-2", D("15"), None)]
    result = QSofa().evaluate(observations, Demographics())
    assert isinstance(result, Finding) and result.values["score"] == 2 and result.positive


def test_boundaries_not_met():
    observations = [Observed("9279-1", D("21"), "/min"), Observed("8480-6", D("101"), "mm[Hg]"),
                    Observed("67775-7", "Alert")]
    result = QSofa().evaluate(observations, Demographics())
    assert isinstance(result, Finding) and result.values["score"] == 0 and not result.positive


def test_missing_input_that_cannot_change_the_result_is_reported_not_guessed():
    decided = QSofa().evaluate([Observed("9279-1", D("30"), "/min"), Observed("9269-2", D("12"), None)],
                               Demographics())
    assert isinstance(decided, Finding) and decided.values["score"] == 2
    assert "not measured: systolic BP" in decided.rationale


def test_missing_input_that_could_change_the_result():
    undecided = QSofa().evaluate([Observed("9279-1", D("30"), "/min")], Demographics())
    assert isinstance(undecided, NotEvaluated)
    assert set(undecided.missing) == {"systolic BP ≤ 100 mmHg", "altered mentation"}
