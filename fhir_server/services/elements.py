"""`_summary` and `_elements`: returning part of a resource (https://hl7.org/fhir/R4/search.html#summary).

A resource returned in part is marked with the SUBSETTED tag from the v3 ObservationValue code system.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir_server.errors import BadRequest
from resources.definitions import load

__all__ = ["SUMMARY_MODES", "summarize", "select_elements", "SUBSETTED"]

SUMMARY_MODES = frozenset({"true", "text", "data", "count", "false"})
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}
ALWAYS = ("resourceType", "id", "meta")


@cache
def _elements_of(res_type: str) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """(summary names, summary choice bases, mandatory names, mandatory choice bases) of a type."""
    entry = load("summary-elements.json.gz").get(res_type, {"summary": [], "mandatory": []})

    def split(names: list[str]) -> tuple[frozenset[str], frozenset[str]]:
        return (frozenset(n for n in names if not n.endswith("[x]")),
                frozenset(n[:-3] for n in names if n.endswith("[x]")))

    return (*split(entry["summary"]), *split(entry["mandatory"]))


def _matches(key: str, names: frozenset[str], choice_bases: frozenset[str]) -> bool:
    if key.startswith("_"):
        key = key[1:]
    if key in names:
        return True
    return any(key.startswith(base) and key[len(base):][:1].isupper() for base in choice_bases)


def _subsetted(resource: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    meta = dict(kept.get("meta") or resource.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    meta["tag"] = [*tags, SUBSETTED]
    out = {"resourceType": resource["resourceType"]}
    if "id" in resource:
        out["id"] = resource["id"]
    out["meta"] = meta
    out.update({k: v for k, v in kept.items() if k not in ALWAYS})
    return out


def summarize(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    """Apply `_summary=true|text|data|false` to one resource (`count` is a search-level mode)."""
    if mode not in SUMMARY_MODES:
        raise BadRequest(f"_summary must be one of true, text, data, count, false; got '{mode}'")
    if mode == "false" or mode == "count":
        return resource
    res_type = resource["resourceType"]
    summary, summary_choices, mandatory, mandatory_choices = _elements_of(res_type)
    if mode == "data":
        kept = {k: v for k, v in resource.items() if k not in ("text", "_text")}
    elif mode == "text":
        kept = {k: v for k, v in resource.items()
                if k in ("text", "_text") or _matches(k, mandatory, mandatory_choices)}
    else:
        kept = {k: v for k, v in resource.items() if _matches(k, summary, summary_choices)}
    return _subsetted(resource, kept)


def select_elements(resource: dict[str, Any], elements: str) -> dict[str, Any]:
    """Apply `_elements=a,b,c`: keep the named top-level elements plus the mandatory ones."""
    names = {name.strip() for name in elements.split(",") if name.strip()}
    # `Patient.name` form is allowed too; only top-level names are meaningful here
    names = {name.split(".", 1)[1] if "." in name and name[0].isupper() else name for name in names}
    _, _, mandatory, mandatory_choices = _elements_of(resource["resourceType"])
    kept = {k: v for k, v in resource.items()
            if k.lstrip("_") in names or _matches(k, frozenset(names), frozenset())
            or _matches(k, mandatory, mandatory_choices)}
    # a choice element asked for by its base name (`value`) keeps whichever type is present
    kept.update({k: v for k, v in resource.items()
                 if any(k.startswith(n) and k[len(n):][:1].isupper() for n in names)})
    return _subsetted(resource, kept)
