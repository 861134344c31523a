"""Compartments as search criteria (https://hl7.org/fhir/R4/compartmentdefinition.html).

`GET [base]/Patient/123/Observation` is the search `Observation?subject=Patient/123` OR
`performer=Patient/123`: the R4 Patient CompartmentDefinition names, per resource type, the
parameters whose reference to the patient makes a resource a member. Types it lists without
parameters are never members. `Patient/123/*` searches every member type at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from fhir_server.errors import BadRequest
from fhir_server.search.query import Compartment
from fhir_server.search.refusals import NotSupported
from fhir_server.search.registry import SearchRegistry

__all__ = ["COMPARTMENT_TYPES", "compartment_params", "compartment"]

COMPARTMENT_TYPES = frozenset({"Patient"})


@cache
def _definition(compartment_type: str) -> Mapping[str, tuple[str, ...]]:
    from resources.definitions import patient_compartment

    if compartment_type != "Patient":
        return {}
    return {entry["code"]: tuple(entry.get("param") or ()) for entry in patient_compartment()["resource"]
            if entry.get("param")}


def compartment_params(compartment_type: str) -> Mapping[str, tuple[str, ...]]:
    """Member type -> the parameters that link it to a compartment of `compartment_type`."""
    return _definition(compartment_type)


def compartment(registry: SearchRegistry, compartment_type: str, compartment_id: str,
                types: Sequence[str] | None) -> Compartment:
    """The criterion for members of `compartment_type/compartment_id` among `types` (None: every
    member type). The parameters the registry does not know (none in R4) are left out."""
    if compartment_type not in COMPARTMENT_TYPES:
        raise NotSupported(f"compartment search is supported for the Patient compartment only, not {compartment_type}")
    params = compartment_params(compartment_type)
    chosen = list(params) if types is None else list(types)
    outside = [res_type for res_type in chosen if res_type not in params]
    if outside:
        raise BadRequest(f"{', '.join(outside)} is not in the {compartment_type} compartment")
    members = tuple(
        (res_type, tuple(code for code in params[res_type] if registry.get(res_type, code) is not None))
        for res_type in chosen
    )
    return Compartment(compartment_type, compartment_id, members)
