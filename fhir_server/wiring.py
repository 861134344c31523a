"""Adapters that plug the FHIR knowledge (`resources`) and the search engine into the service layer's ports."""

from __future__ import annotations

from functools import cache
from typing import Any

from conformance import SearchParamSupport
from fhir_server.errors import Issue
from fhir_server.search import SearchRegistry, extract
from fhir_server.search.sql.matcher import SearchMatcher
from fhir_server.services.ports import Indexer, IndexRows, Matcher, Validator
from resources import validate

__all__ = ["search_registry", "build_validator", "build_indexer", "build_matcher", "search_support", "warm_up"]


@cache
def search_registry() -> SearchRegistry:
    """The registry of the official R4 search parameters, built once per process."""
    return SearchRegistry.from_definitions()


def build_validator(*, with_models: bool = True) -> Validator:
    """`with_models=False`: the R4 structural validation without the R4B model layer (writes, unless
    `FHIR_VALIDATION_R4B_MODELS` asks for it, and the HL7 gateway's, whose resources the mapping tests
    check against both layers); `$validate` runs both."""

    def validator(resource: dict[str, Any]) -> list[Issue]:
        return [Issue(code=i.code, diagnostics=i.diagnostics, severity=i.severity,
                      expression=(i.expression,) if i.expression else ())
                for i in validate(resource, with_models=with_models, warnings=True)]

    return validator


def build_indexer(registry: SearchRegistry | None = None) -> Indexer:
    registry = registry or search_registry()

    def indexer(resource: dict[str, Any]) -> IndexRows:
        return extract(registry, resource)

    return indexer


def build_matcher(registry: SearchRegistry | None = None) -> Matcher:
    return SearchMatcher(registry or search_registry())


def search_support(registry: SearchRegistry | None = None) -> tuple[
        dict[str, list[SearchParamSupport]], list[SearchParamSupport], dict[str, list[str]], dict[str, list[str]]]:
    """What the CapabilityStatement claims for search: the parameters served per type, those common to
    all types, and the `_include` / `_revinclude` values per type."""
    from fhir_server.search.capabilities import COMMON_CODES, served_includes, served_params

    registry = registry or search_registry()
    params = {
        res_type: [SearchParamSupport(p.code, p.type, p.url or None, p.documentation)
                   for p in served_params(registry, res_type)]
        for res_type in sorted(registry.resource_types)
    }
    patient = {p.name: p for p in params.get("Patient", [])}
    common = [patient[code] for code in COMMON_CODES if code in patient]
    includes, revincludes = served_includes(registry)
    return params, common, includes, revincludes


def warm_up(validator: Validator, indexer: Indexer) -> None:
    """Load the definitions and the search plans of the commonest types now, not on a first request."""
    for res_type in ("Patient", "Observation", "Encounter", "Practitioner", "DiagnosticReport"):
        resource = {"resourceType": res_type, "id": "warm-up"}
        validator(resource)
        indexer(resource)
