"""FHIR R4 knowledge: resource validation, the type registry and the vendored official definitions.

    from resources import validate, ValidationIssue, RESOURCE_TYPES, is_resource_type

    issues = validate(resource)  # [] when `resource` (parsed by resources.fhir_json.loads) is valid R4
"""

from resources.constraints import ConstraintChecker
from resources.invariants import Invariant, InvariantChecker, compile_invariant
from resources.issues import ValidationIssue
from resources.registry import RESOURCE_TYPES, is_resource_type
from resources.validator import validate

__all__ = ["validate", "ValidationIssue", "ConstraintChecker", "InvariantChecker", "Invariant",
           "compile_invariant", "RESOURCE_TYPES", "is_resource_type"]
