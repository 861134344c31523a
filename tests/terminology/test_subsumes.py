"""CodeSystem/$subsumes on real hierarchies: v3 ActCode, issue-type and the SNOMED CT subset."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest, NotFound
from terminology import TerminologyStore, subsumes
from tests.terminology.conftest import ACT_CODE, SNOMED, params

ISSUE_TYPE = "http://hl7.org/fhir/issue-type"


@pytest.mark.parametrize(("a", "b", "outcome"), [
    ("_ActAccountCode", "AE", "subsumes"),        # grandparent of American Express
    ("AE", "_ActAccountCode", "subsumed-by"),
    ("CC", "CC", "equivalent"),
    ("CC", "CASH", "not-subsumed"),               # siblings
    ("_ActInvoiceAdjudicationPaymentSummaryCode", "CONT", "subsumes"),  # through a `child` property
])
def test_act_code(store: TerminologyStore, a: str, b: str, outcome: str) -> None:
    assert params(subsumes(store, system=ACT_CODE, code_a=a, code_b=b))["outcome"] == outcome


def test_codings_and_other_hierarchies(store: TerminologyStore) -> None:
    out = subsumes(store, coding_a={"system": ISSUE_TYPE, "code": "invalid"},
                   coding_b={"system": ISSUE_TYPE, "code": "structure"})
    assert params(out)["outcome"] == "subsumes"
    out = subsumes(store, system=SNOMED, code_a="46177005", code_b="709044004")  # ESRD is-a CKD
    assert params(out)["outcome"] == "subsumed-by"


def test_errors(store: TerminologyStore) -> None:
    with pytest.raises(NotFound):
        subsumes(store, system="http://example.org/none", code_a="a", code_b="b")
    with pytest.raises(NotFound, match="Unknown code"):
        subsumes(store, system=ACT_CODE, code_a="CC", code_b="NOPE")
    with pytest.raises(BadRequest):
        subsumes(store, system=ACT_CODE, code_a="CC")
    with pytest.raises(BadRequest, match="one code system"):
        subsumes(store, coding_a={"system": ACT_CODE, "code": "CC"}, coding_b={"system": ISSUE_TYPE, "code": "invalid"})
    with pytest.raises(BadRequest):
        subsumes(store, code_a="CC", code_b="AE")  # no system
