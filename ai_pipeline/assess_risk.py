"""`POST [base]/Patient/[id]/$assess-risk`: run the clinical rules on one patient now.

For callers who want the answer at once rather than from the background job: the same rules over
the same record, with the same write-back (RiskAssessments replacing the earlier ones of each rule,
a Provenance), under the pipeline's own principal once the caller is allowed to run the operation
and to read the Patient. Returns the current RiskAssessments and, in `outcome`, what each rule that
gave none was missing. `rule` (repeatable) limits the run to those rule ids.
"""

from __future__ import annotations

from typing import Any

from ai_pipeline.pipeline import Pipeline
from ai_pipeline.rules import RULES
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, Issue, operation_outcome
from fhir_server.operations.registry import OperationCall, OperationResult

__all__ = ["DEFINITION", "AssessRiskOperation"]

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "Patient-assess-risk",
    "url": "https://fhir-server.dev/fhir/OperationDefinition/Patient-assess-risk",
    "name": "AssessRisk",
    "title": "Assess a patient with the published clinical rules",
    "status": "active",
    "kind": "operation",
    "code": "assess-risk",
    "resource": ["Patient"],
    "system": False,
    "type": False,
    "instance": True,
    "affectsState": True,
    "description": "Runs the registered clinical rules (CKD-EPI 2021 with KDIGO stage, KFRE, KDIGO AKI, ADA "
                   "diabetes, WHO anaemia, hyperkalaemia, hyponatraemia, NEWS2, qSOFA) over the patient's "
                   "Observations and demographics and writes one preliminary RiskAssessment per finding, "
                   "replacing the earlier one of the same rule, with a Provenance. Decision support for "
                   "clinician review, not a diagnosis.",
    "parameter": [
        {"name": "rule", "use": "in", "min": 0, "max": "*", "type": "code",
         "documentation": "Limit the run to these rule ids: " + ", ".join(RULES)},
        {"name": "assessment", "use": "out", "min": 0, "max": "*", "type": "RiskAssessment",
         "documentation": "The current RiskAssessment of each rule that gave a finding"},
        {"name": "outcome", "use": "out", "min": 1, "max": "1", "type": "OperationOutcome",
         "documentation": "What was written, and why each other rule gave no finding"},
    ],
}


class AssessRiskOperation:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def __call__(self, ctx: RequestContext, call: OperationCall) -> OperationResult:
        if call.res_id is None:
            raise BadRequest("$assess-risk applies to a Patient instance: Patient/[id]/$assess-risk")
        rules = [str(rule) for rule in call.inputs.values("rule")] or None
        unknown = [rule for rule in rules or () if rule not in RULES]
        if unknown:
            raise BadRequest(f"unknown rule id(s): {', '.join(unknown)}; known: {', '.join(RULES)}", code="not-supported")
        resources = self.pipeline.resources
        await resources.read(ctx, "Patient", call.res_id)  # the caller must be allowed to see the patient
        work = self.pipeline.context()
        assessment = await resources.run_in_transaction(
            lambda tx: self.pipeline.assess_in(tx, work, str(call.res_id), sources=[f"Patient/{call.res_id}"],
                                               rules=rules))
        await resources.access.flush(work)
        written = assessment.written
        issues = [Issue("informational", f"{len(written.targets)} resource version(s) written, "
                        f"{len(written.unchanged)} unchanged", severity="information")]
        issues += [Issue("informational", f"{n.rule_id}: {n.message}", severity="information")
                   for n in assessment.not_evaluated]
        parameters = [{"name": "assessment", "resource": resource} for resource in assessment.assessments]
        parameters.append({"name": "outcome", "resource": operation_outcome(issues)})
        return OperationResult({"resourceType": "Parameters", "parameter": parameters})
