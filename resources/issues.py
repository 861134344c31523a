"""What validation reports: one problem, where it is, and how bad (an OperationOutcome.issue in waiting)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ValidationIssue", "Severity"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One problem found in a resource.

    `code` is an http://hl7.org/fhir/issue-type code ("structure", "required", "value", "invalid",
    "code-invalid", "not-supported"...); `expression` is a FHIRPath to the element, with indexes
    (`Observation.component[1].valueQuantity.value`).
    """

    severity: Severity
    code: str
    diagnostics: str
    expression: str
