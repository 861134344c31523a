"""The extension point for the R4 invariants (FHIRPath constraints such as `obs-6`, `ext-1`, `dom-2`).

The structural validator does not evaluate invariants. A checker that does is any callable taking a
structurally valid resource and returning its issues; pass it to `resources.validate(...,
constraints=[checker])`. `resources.invariants.InvariantChecker` is the one for the R4 invariants.
"""

from __future__ import annotations

from typing import Any, Protocol

from resources.issues import ValidationIssue

__all__ = ["ConstraintChecker"]


class ConstraintChecker(Protocol):
    def __call__(self, resource: dict[str, Any], /) -> list[ValidationIssue]: ...
