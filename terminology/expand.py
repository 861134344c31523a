"""ValueSet/$expand: the codes of a value set (https://hl7.org/fhir/R4/valueset-operation-expand.html).

    expand(store, url="http://hl7.org/fhir/ValueSet/administrative-gender", filter="fem", count=10)

Returns the ValueSet with an `expansion`: `total` (after `filter` and `activeOnly`), `offset`, the
parameters used and a flat `contains` page of `count` codes from `offset`. The full expansion of a
stored value set is cached until the store changes; one that would pass the store's `expansion_limit`
is refused as too-costly (a `count` does not lift the limit: the total has to be known).

`filter` keeps codes whose display (or code) contains every word of the filter text, ignoring case.
`includeDesignations` adds each code's designations, `designation` (language codes, or `system|code`
of a use) narrows them, `displayLanguage` picks displays from the designations, `exclude-system` drops
the codes of the given systems (`url` or `url|version`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from resources.errors import BadRequest
from terminology.operation_definition import narrowed
from terminology.store import TerminologyStore
from terminology.value_set import Member

__all__ = ["expand", "operation_definition"]

INPUTS = ("url", "valueSet", "valueSetVersion", "filter", "date", "offset", "count", "includeDesignations",
          "designation", "activeOnly", "excludeNested", "displayLanguage", "exclude-system")
KEPT_METADATA = ("id", "url", "version", "name", "title", "status", "experimental", "immutable")


def expand(
    store: TerminologyStore, *, url: str | None = None, value_set: dict[str, Any] | None = None,
    value_set_version: str | None = None, filter: str | None = None, date: str | None = None,
    offset: int | None = None, count: int | None = None, include_designations: bool | None = None,
    designation: Sequence[str] = (), active_only: bool | None = None, exclude_nested: bool | None = None,
    display_language: str | None = None, exclude_system: Sequence[str] = (),
) -> dict[str, Any]:
    """ValueSet/$expand of the value set `url` or the `value_set` resource; a ValueSet dict."""
    if (url is None) == (value_set is None):
        raise BadRequest("ValueSet/$expand needs one of url and valueSet")
    start = 0 if offset is None else offset
    if start < 0 or (count is not None and count < 0):
        raise BadRequest("offset and count must not be negative")
    compiled = (store.require_value_set(url, value_set_version) if url is not None
                else store.compile_value_set(value_set or {}))
    members = compiled.expansion(store.expansion_limit)
    members = _narrow(members, filter=filter, active_only=bool(active_only), exclude_system=exclude_system)
    page = members[start:] if count is None else members[start:start + count]
    used: list[dict[str, Any]] = []
    for name, key, value in (
        ("filter", "valueString", filter), ("offset", "valueInteger", offset), ("count", "valueInteger", count),
        ("activeOnly", "valueBoolean", active_only), ("includeDesignations", "valueBoolean", include_designations),
        ("displayLanguage", "valueCode", display_language),
    ):
        if value is not None:
            used.append({"name": name, key: value})
    used += [{"name": "exclude-system", "valueCanonical": s} for s in exclude_system]
    used += [{"name": "warning", "valueString": f"CodeSystem {s} is held in part (a fragment): the expansion "
                                                f"lists only the codes this server holds"}
             for s in compiled.partial_systems()]
    systems = {(m.system, m.version) for m in members}
    used += [{"name": "used-codesystem", "valueUri": f"{s}|{v}" if v else s} for s, v in sorted(systems, key=str)]
    expansion: dict[str, Any] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "total": len(members),
        "offset": start,
    }
    if used:
        expansion["parameter"] = used
    if page:
        wanted = _DesignationChoice(designation) if include_designations else None
        expansion["contains"] = [_entry(m, wanted, display_language) for m in page]
    source = compiled.resource
    result: dict[str, Any] = {"resourceType": "ValueSet"}
    result.update({k: source[k] for k in KEPT_METADATA if k in source})
    result.setdefault("status", "active")
    result["expansion"] = expansion
    return result


def _narrow(members: list[Member], *, filter: str | None, active_only: bool,
            exclude_system: Sequence[str]) -> list[Member]:
    if not filter and not active_only and not exclude_system:
        return members
    words = [w.casefold() for w in (filter or "").split()]
    excluded = {s.partition("|")[0]: s.partition("|")[2] or None for s in exclude_system}

    def keep(m: Member) -> bool:
        if active_only and m.inactive:
            return False
        if m.system in excluded and excluded[m.system] in (None, m.version):
            return False
        if words:
            text = f"{m.display or ''} {m.code}".casefold()
            return all(w in text for w in words)
        return True

    return [m for m in members if keep(m)]


class _DesignationChoice:
    """Which designations to return: all, or those whose language or use is named."""

    def __init__(self, names: Sequence[str]) -> None:
        self.languages = {n.lower() for n in names if "|" not in n}
        self.uses = {tuple(n.split("|", 1)) for n in names if "|" in n}

    def keeps(self, designation: dict[str, Any]) -> bool:
        if not self.languages and not self.uses:
            return True
        language = str(designation.get("language", "")).lower()
        use = designation.get("use") or {}
        return language in self.languages or (use.get("system"), use.get("code")) in self.uses


def _entry(member: Member, designations: _DesignationChoice | None, language: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"system": member.system}
    if member.version:
        entry["version"] = member.version
    if member.abstract:
        entry["abstract"] = True
    if member.inactive:
        entry["inactive"] = True
    entry["code"] = member.code
    display = member.concept.display_in(language) if member.concept is not None and language else member.display
    if display:
        entry["display"] = display
    if designations is not None:
        kept = [d for d in member.designations if designations.keeps(d)]
        if kept:
            entry["designation"] = kept
    return entry


def operation_definition(base_url: str | None = None) -> dict[str, Any]:
    """The OperationDefinition of ValueSet/$expand as this server implements it."""
    return narrowed("ValueSet-expand", inputs=INPUTS, base_url=base_url,
                    comment="Expansions are flat (excludeNested is always in effect); `date` is accepted and "
                            "ignored; expansions past the server's limit are refused with too-costly.")
