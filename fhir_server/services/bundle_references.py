"""Resolving the identities a transaction Bundle uses before the server has assigned them
(https://hl7.org/fhir/R4/bundle.html#references, https://hl7.org/fhir/R4/http.html#trules).

A POSTed entry's `fullUrl` (typically `urn:uuid:…`) stands for the resource the server creates; every
place the Bundle uses that URL — `Reference.reference` anywhere inside any resource, elements of type
uri/url/canonical, `<a href>` and `<img src>` in narrative, the criteria of conditional URLs — is
rewritten to the new `Type/id`. A conditional reference (`Patient?identifier=…` in a
`Reference.reference`) is replaced by the one resource it matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fhir_server.services.bundle_entries import TEMPORARY_PREFIXES

__all__ = ["Identities", "is_conditional_reference", "is_temporary", "unresolved"]

_CONDITIONAL = re.compile(r"[A-Z][A-Za-z]+\?.+", re.DOTALL)
_NARRATIVE_URL = re.compile(r'((?:href|src)\s*=\s*")([^"]+)(")')


def is_temporary(url: str) -> bool:
    return url.startswith(TEMPORARY_PREFIXES)


def is_conditional_reference(reference: str) -> bool:
    return _CONDITIONAL.fullmatch(reference) is not None


def unresolved(unknown: Iterable[str]) -> tuple[list[str], list[str]]:
    """Of the references a rewrite left as they were (`Identities.rewrite(value, unknown)`): the
    conditional ones, to resolve, and the temporary ids that no entry of the Bundle has."""
    unknown = set(unknown)
    return sorted(filter(is_conditional_reference, unknown)), sorted(filter(is_temporary, unknown))



class Identities:
    """The Bundle's URLs for resources → their `Type/id` on this server.

    `urls` are replaced wherever a string equals them (fullUrls: `urn:uuid:…` or absolute);
    `references` only in `Reference.reference` (relative aliases and resolved conditional references).
    """

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.references: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self.urls or self.references)

    def bind(self, full_url: str | None, res_type: str, res_id: str, *, base_url: str = "") -> None:
        if not full_url:
            return
        target = f"{res_type}/{res_id}"
        self.urls[full_url] = target
        if base_url and full_url.startswith(base_url + "/"):
            relative = full_url[len(base_url) + 1:]
            if relative != target:
                self.references[relative] = target

    def criteria(self, criteria: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        """Conditional URL criteria with the Bundle's URLs replaced (in each comma-separated value)."""
        if not self.urls:
            return criteria
        return tuple((name, ",".join(self.urls.get(part, part) for part in value.split(",")))
                     for name, value in criteria)

    def rewrite(self, value: Any, unknown: list[str] | None = None) -> Any:
        """`value` with every known URL replaced; untouched parts are shared, not copied. `unknown`, when
        given, gets each `Reference.reference` that no known URL replaced (conditional references yet to
        resolve, temporary ids no entry has), found in the same walk."""
        return self._rewrite(value, None, unknown)

    def _rewrite(self, value: Any, key: str | None, unknown: list[str] | None) -> Any:
        if isinstance(value, str):
            if key == "reference":
                found = self.references.get(value) or self.urls.get(value)
                if found is not None:
                    return found
                if unknown is not None:
                    unknown.append(value)
                return value
            if key == "div" and self.urls:
                return _NARRATIVE_URL.sub(lambda m: m[1] + self.urls.get(m[2], m[2]) + m[3], value)
            return self.urls.get(value, value)
        if isinstance(value, dict):
            changed: dict[str, Any] | None = None
            for item_key, item in value.items():
                new = self._rewrite(item, item_key, unknown)
                if new is not item:
                    if changed is None:
                        changed = dict(value)
                    changed[item_key] = new
            return value if changed is None else changed
        if isinstance(value, list):
            items: list[Any] | None = None
            for position, item in enumerate(value):
                new = self._rewrite(item, key, unknown)
                if new is not item:
                    if items is None:
                        items = list(value)
                    items[position] = new
            return value if items is None else items
        return value
