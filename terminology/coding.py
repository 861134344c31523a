"""The coded value an operation asks about, given as `code` + `system`, a `coding` or a `codeableConcept`.

The operations take exactly one of the three forms (https://hl7.org/fhir/R4/valueset-operation-validate-code.html);
none, or two at once, is a BadRequest, as is a `code` with no system where one is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resources.errors import BadRequest

__all__ = ["Coded", "coded_values"]


@dataclass(frozen=True, slots=True)
class Coded:
    """One (system, code) with its optional version and display."""

    system: str | None
    code: str
    version: str | None = None
    display: str | None = None

    def label(self) -> str:
        return f"{self.system}#{self.code}" if self.system else self.code


def _coded(coding: Any, name: str) -> Coded:
    if not isinstance(coding, dict):
        raise BadRequest(f"Parameter '{name}' must be a Coding")
    code = coding.get("code")
    if not isinstance(code, str) or not code:
        raise BadRequest(f"Parameter '{name}' must have a code")
    return Coded(coding.get("system"), code, coding.get("version"), coding.get("display"))


def coded_values(*, operation: str, code: str | None = None, system: str | None = None,
                 version: str | None = None, display: str | None = None, coding: Any = None,
                 codeable_concept: Any = None, require_system: bool = True) -> list[Coded]:
    """The codings to check: one for `code` or `coding`, each coding of a `codeableConcept`."""
    given = [name for name, value in (("code", code), ("coding", coding), ("codeableConcept", codeable_concept))
             if value is not None]
    if not given:
        raise BadRequest(f"${operation} needs a code (with its system), a coding or a codeableConcept")
    if len(given) > 1:
        raise BadRequest(f"${operation} takes one of code, coding and codeableConcept, not "
                         + " and ".join(given))
    if code is not None:
        if not isinstance(code, str) or not code:
            raise BadRequest(f"Parameter 'code' of ${operation} must not be empty")
        if system is None and require_system:
            raise BadRequest(f"${operation} needs the system of the code '{code}'")
        return [Coded(system, code, version, display)]
    if coding is not None:
        found = _coded(coding, "coding")
        if system is not None and found.system is not None and found.system != system:
            raise BadRequest(f"The coding's system '{found.system}' conflicts with the system '{system}'")
        if found.system is None and require_system:
            found = Coded(system, found.code, found.version, found.display)
            if system is None:
                raise BadRequest(f"${operation} needs the system of the coding '{found.code}'")
        if display is not None and found.display is None:
            found = Coded(found.system, found.code, found.version, display)
        return [found]
    if not isinstance(codeable_concept, dict):
        raise BadRequest("Parameter 'codeableConcept' must be a CodeableConcept")
    codings = codeable_concept.get("coding") or []
    if not codings:
        raise BadRequest("Parameter 'codeableConcept' has no coding to check")
    return [_coded(c, "codeableConcept.coding") for c in codings]
