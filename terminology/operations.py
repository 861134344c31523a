"""The terminology operations by resource type and name, for whoever routes `$operation` requests.

    operation = OPERATIONS[("ValueSet", "expand")]
    result = operation.invoke(store, parameters)   # a Parameters resource, or (name, value) query pairs

`invoke` maps the parameters by the operation's OperationDefinition (see `terminology.parameters`) and
calls the pure function. `operation_definitions(base_url)` lists the six definitions for the
CapabilityStatement and for `GET [base]/OperationDefinition/[id]`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from terminology import validate_code
from terminology.expand import expand
from terminology.expand import operation_definition as expand_definition
from terminology.lookup import lookup
from terminology.lookup import operation_definition as lookup_definition
from terminology.parameters import arguments
from terminology.store import TerminologyStore
from terminology.subsumes import operation_definition as subsumes_definition
from terminology.subsumes import subsumes
from terminology.translate import operation_definition as translate_definition
from terminology.translate import translate

__all__ = ["Operation", "OPERATIONS", "operation_definitions"]


@dataclass(frozen=True, slots=True)
class Operation:
    """One terminology operation: where it is invoked, its function and its OperationDefinition."""

    resource_type: str
    code: str
    definition_id: str
    function: Callable[..., dict[str, Any]]

    def definition(self, base_url: str | None = None) -> dict[str, Any]:
        return next(d for d in operation_definitions(base_url) if d["id"] == self.definition_id)

    def invoke(self, store: TerminologyStore,
               parameters: dict[str, Any] | Iterable[tuple[str, str]]) -> dict[str, Any]:
        return self.function(store, **arguments(_parameters_definition(self.definition_id), parameters))


@cache
def _parameters_definition(definition_id: str) -> dict[str, Any]:
    """The definition `invoke` maps parameters by, built once (building all six deep-copies the official
    ones: that cost more than the operation itself). Shared: never change it."""
    return next(d for d in operation_definitions() if d["id"] == definition_id)


OPERATIONS: dict[tuple[str, str], Operation] = {
    (op.resource_type, op.code): op
    for op in (
        Operation("CodeSystem", "lookup", "CodeSystem-lookup", lookup),
        Operation("CodeSystem", "validate-code", "CodeSystem-validate-code", validate_code.code_system_validate_code),
        Operation("CodeSystem", "subsumes", "CodeSystem-subsumes", subsumes),
        Operation("ValueSet", "expand", "ValueSet-expand", expand),
        Operation("ValueSet", "validate-code", "ValueSet-validate-code", validate_code.value_set_validate_code),
        Operation("ConceptMap", "translate", "ConceptMap-translate", translate),
    )
}


def operation_definitions(base_url: str | None = None) -> list[dict[str, Any]]:
    """The OperationDefinitions of the six terminology operations, as this server implements them."""
    return [
        lookup_definition(base_url),
        *validate_code.operation_definitions(base_url),
        subsumes_definition(base_url),
        expand_definition(base_url),
        translate_definition(base_url),
    ]
