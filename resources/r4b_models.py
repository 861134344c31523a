"""The second validation layer: the `fhir.resources` R4B pydantic models, where they describe R4.

Only for resource types in `registry.R4B_MODEL_TYPES` (computed by `resources.r4b_compat` when the
definitions are vendored), and only when the resource and everything nested in it stays within those
types and avoids the data type properties R4B takes differently; `resources.validator` decides that
while it walks. Pydantic's errors are turned into our issues here, so nothing above sees them; any other exception
from the models is logged and ignored, since the R4 validator has already accepted the resource.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from resources.issues import ValidationIssue

__all__ = ["model_issues"]

logger = logging.getLogger(__name__)


def _expression(resource_type: str, location: tuple[int | str, ...]) -> str:
    parts = [resource_type]
    for step in location:
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return "".join(parts)


def model_issues(resource: dict[str, Any]) -> list[ValidationIssue]:
    """The problems the R4B model of `resource`'s type finds; [] when it accepts the resource."""
    from fhir.resources.R4B import get_fhir_model_class

    resource_type = resource["resourceType"]
    try:
        get_fhir_model_class(resource_type).model_validate(resource)
    except ValidationError as exc:
        return [
            ValidationIssue(
                "error", "invalid", f"R4B model: {error['msg']}",
                _expression(resource_type, tuple(error["loc"])),
            )
            for error in exc.errors()
        ]
    except Exception:  # a crash inside the models is their bug, not a fault of the resource
        logger.warning("the R4B model of %s could not check a resource", resource_type, exc_info=True)
    return []
