"""CodeSystem/$subsumes: how two codes of one code system relate
(https://hl7.org/fhir/R4/codesystem-operation-subsumes.html).

    subsumes(store, system=ACT_CODE, code_a="_ActAccountCode", code_b="CC")   # outcome: subsumes

The outcome (http://hl7.org/fhir/concept-subsumption-outcome) is `equivalent` (the same concept),
`subsumes` (A is an ancestor of B), `subsumed-by` (B is an ancestor of A) or `not-subsumed`, along the
code system's hierarchy (nesting plus `parent`/`child` properties).
"""

from __future__ import annotations

from typing import Any

from resources.errors import BadRequest, NotFound
from terminology.code_system import CodeSystem
from terminology.coding import Coded, coded_values
from terminology.operation_definition import narrowed
from terminology.parameters import Output
from terminology.store import TerminologyStore

__all__ = ["subsumes", "operation_definition"]

INPUTS = ("codeA", "codeB", "system", "version", "codingA", "codingB")


def subsumes(store: TerminologyStore, *, code_a: str | None = None, code_b: str | None = None,
             system: str | None = None, version: str | None = None, coding_a: dict[str, Any] | None = None,
             coding_b: dict[str, Any] | None = None) -> dict[str, Any]:
    """CodeSystem/$subsumes: a Parameters with `outcome`."""
    a = coded_values(operation="subsumes", code=code_a, system=system, version=version, coding=coding_a)[0]
    b = coded_values(operation="subsumes", code=code_b, system=system, version=version, coding=coding_b)[0]
    if a.system != b.system:
        raise BadRequest(f"$subsumes compares codes of one code system, not '{a.system}' and '{b.system}'")
    cs = store.require_code_system(a.system or "", a.version or b.version or version)
    first, second = _concept_code(cs, a), _concept_code(cs, b)
    if first == second:
        outcome = "equivalent"
    elif cs.subsumes(first, second):
        outcome = "subsumes"
    elif cs.subsumes(second, first):
        outcome = "subsumed-by"
    else:
        outcome = "not-subsumed"
    return Output().add("outcome", "valueCode", outcome).resource()


def _concept_code(cs: CodeSystem, coded: Coded) -> str:
    concept = cs.get(coded.code)
    if concept is None:
        raise NotFound(f"Unknown code '{coded.code}' in CodeSystem '{cs.url}'")
    return concept.code


def operation_definition(base_url: str | None = None) -> dict[str, Any]:
    """The OperationDefinition of CodeSystem/$subsumes as this server implements it."""
    return narrowed("CodeSystem-subsumes", inputs=INPUTS, base_url=base_url)
