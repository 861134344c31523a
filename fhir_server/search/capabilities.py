"""What search really serves, per resource type, for the CapabilityStatement.

A parameter is listed when a search on it works: it has an expression this server indexes (or is a
column of the resource row), or it is a composite whose components are known, or one of `_text`,
`_content`, `_list`. `near` (and anything else `special`) is not. `_include` targets are the type's
reference parameters, `_revinclude` sources every reference parameter that may point at the type.
R4's `CapabilityStatement.rest.resource.searchParam` has no element for modifiers, so the ones each
parameter accepts are named in its `documentation`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.search.params import LIST_URL, modifiers_for
from fhir_server.search.registry import SearchParam, SearchRegistry

__all__ = ["ServedParam", "served_params", "served_includes", "COMMON_CODES"]

# parameters every type has alike, listed once at the rest level too
COMMON_CODES = ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_text", "_content", "_list")


@dataclass(frozen=True, slots=True)
class ServedParam:
    code: str
    type: str
    url: str
    modifiers: tuple[str, ...] = ()

    @property
    def documentation(self) -> str | None:
        if not self.modifiers and self.type != "reference":
            return None
        named = [f":{modifier}" for modifier in self.modifiers] + ([":[type]"] if self.type == "reference" else [])
        return f"Modifiers: {', '.join(named)}"


def _served(registry: SearchRegistry, param: SearchParam) -> bool:
    if param.code in ("_text", "_content") or param.on_resource_table:
        return True
    if param.type == "special":
        return False
    if param.type == "composite":
        return registry.component_types(param) is not None and param.expression is not None
    return param.expression is not None


def served_params(registry: SearchRegistry, resource_type: str) -> list[ServedParam]:
    params = [ServedParam(code, param.type, param.url, modifiers_for(param))
              for code, param in sorted(registry.params_for(resource_type).items()) if _served(registry, param)]
    params.append(ServedParam("_list", "special", LIST_URL))
    return params


def served_includes(registry: SearchRegistry) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(`_include` values per type, `_revinclude` values per type)."""
    includes: dict[str, list[str]] = {}
    revincludes: dict[str, list[str]] = {}
    every = sorted(registry.resource_types)
    for source in every:
        for code, param in sorted(registry.params_for(source).items()):
            if param.type != "reference" or param.expression is None:
                continue
            includes.setdefault(source, []).append(f"{source}:{code}")
            for target in param.targets or every:
                if registry.supports(target):
                    revincludes.setdefault(target, []).append(f"{source}:{code}")
    for source in includes:
        includes[source].append("*")
    return includes, revincludes
