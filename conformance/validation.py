"""What `$validate` checks beyond the structural validation every write gets: the R4 invariants and
the profiles the resource claims in `meta.profile` or is asked about (https://hl7.org/fhir/R4/validation.html).

Writes do not evaluate invariants or profiles: FHIRPath costs about a millisecond per resource, more
for large definitional resources, and profiles are a statement about a use, not a rule of the store.
"""

from __future__ import annotations

from typing import Any

from conformance.profiles import Member, Profiles
from resources import InvariantChecker, ValidationIssue

__all__ = ["ResourceValidation", "BASE_PROFILE"]

BASE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"


class ResourceValidation:
    def __init__(self, member: Member | None = None) -> None:
        self.invariants = InvariantChecker()
        self.profiles = Profiles(member)

    def knows(self, profile: str, resource_type: str) -> bool:
        return profile.partition("|")[0] == BASE_PROFILE + resource_type or self.profiles.knows(profile)

    def __call__(self, resource: dict[str, Any], profile: str | None = None) -> list[ValidationIssue]:
        """The invariant and profile issues of a structurally valid resource."""
        issues = self.invariants(resource)
        claimed = resource.get("meta", {}).get("profile", []) if isinstance(resource.get("meta"), dict) else []
        wanted = [*claimed, *([profile] if profile else [])]
        for url in dict.fromkeys(wanted):
            if isinstance(url, str) and self.profiles.knows(url):
                issues += self.profiles.validate(resource, url)
        return issues
