"""`$validate` at type and instance level (https://hl7.org/fhir/R4/resource-operation-validate.html).

Checks a resource against R4 (structure, cardinality, primitive formats, required bindings, and the
FHIRPath invariants) without storing it, and against the profiles it claims in `meta.profile` or the
`profile` parameter names, when the server knows them (the base profiles and US Core 5.0.1, see
`conformance.profiles`). Modes: `create` (the default), `update` (the body's id must be the
instance's) and `delete` (the instance must exist).
"""

from __future__ import annotations

from typing import Any

from conformance import ResourceValidation
from fhir_server.context import RequestContext
from fhir_server.errors import BadRequest, Issue, NotFound, operation_outcome
from fhir_server.operations.registry import OperationCall, OperationResult
from fhir_server.services.ports import Validator
from fhir_server.services.resources import ResourceService

__all__ = ["DEFINITION", "ValidateOperation"]

MODES = ("create", "update", "delete")

DEFINITION: dict[str, Any] = {
    "resourceType": "OperationDefinition",
    "id": "Resource-validate",
    "url": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
    "name": "Validate",
    "status": "active",
    "kind": "operation",
    "code": "validate",
    "resource": ["Resource"],
    "system": False,
    "type": True,
    "instance": True,
    "affectsState": False,
    "parameter": [
        {"name": "resource", "use": "in", "min": 0, "max": "1", "type": "Resource",
         "documentation": "The resource to validate (or the body itself)"},
        {"name": "mode", "use": "in", "min": 0, "max": "1", "type": "code",
         "documentation": "create | update | delete"},
        {"name": "profile", "use": "in", "min": 0, "max": "1", "type": "uri",
         "documentation": "A profile to validate against: the base profile of the type, or a US Core 5.0.1 "
                          "profile"},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "OperationOutcome"},
    ],
}


class ValidateOperation:
    def __init__(self, resources: ResourceService, validator: Validator,
                 conformance: ResourceValidation | None = None) -> None:
        self.resources = resources
        self.validator = validator
        self.conformance = conformance or ResourceValidation()

    async def __call__(self, ctx: RequestContext, call: OperationCall) -> OperationResult:
        mode = call.inputs.value("mode", "create" if call.level == "type" else "update")
        if mode not in MODES:
            raise BadRequest(f"$validate mode must be one of {', '.join(MODES)}, got '{mode}'")
        if mode == "delete":
            return self._outcome(await self._validate_delete(ctx, call))
        resource = call.body_resource or call.inputs.resource("resource")
        if resource is None:
            raise BadRequest("$validate needs a resource: the body, or a Parameters 'resource'", code="required")
        issues = self._check_target(call, resource, mode)
        profile = call.inputs.value("profile")
        if profile is not None and not self.conformance.knows(profile, str(resource.get("resourceType"))):
            issues.append(Issue("not-supported", f"profile {profile} is not known to this server"))
            profile = None
        found = self.validator(resource)
        issues += found
        if not any(issue.severity in ("error", "fatal") for issue in found):
            issues += [Issue(code=i.code, diagnostics=i.diagnostics, severity=i.severity,
                             expression=(i.expression,) if i.expression else ())
                       for i in self.conformance(resource, profile)]
        return self._outcome(issues)

    @staticmethod
    def _check_target(call: OperationCall, resource: Any, mode: str) -> list[Issue]:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequest("$validate needs a FHIR resource (a JSON object with a resourceType)")
        issues = []
        if call.res_type and resource["resourceType"] != call.res_type:
            issues.append(Issue("invalid", f"resourceType '{resource['resourceType']}' is not {call.res_type}",
                                expression=(resource["resourceType"],)))
        if mode == "update" and call.res_id is not None and resource.get("id") != call.res_id:
            issues.append(Issue("invalid", f"for an update the resource id must be '{call.res_id}'",
                                expression=(f"{resource['resourceType']}.id",)))
        return issues

    async def _validate_delete(self, ctx: RequestContext, call: OperationCall) -> list[Issue]:
        if call.res_type is None or call.res_id is None:
            raise BadRequest("$validate with mode=delete applies to an instance: [type]/[id]/$validate")
        try:
            await self.resources.read(ctx, call.res_type, call.res_id)
        except NotFound:
            return [Issue("not-found", f"{call.res_type}/{call.res_id} does not exist")]
        return []

    @staticmethod
    def _outcome(issues: list[Issue]) -> OperationResult:
        if not any(issue.severity in ("error", "fatal") for issue in issues):
            issues = [*issues, Issue("informational", "validation successful: no errors", severity="information")]
        return OperationResult(operation_outcome(issues))
