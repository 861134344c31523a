"""Reading a `Reference.reference` string: relative, versioned, absolute, canonical or contained.

https://hl7.org/fhir/R4/references.html: a literal reference is relative (`Patient/123`, optionally
`/_history/2`), absolute (`http://server/fhir/Patient/123`), a URN (`urn:uuid:...`) or a local
fragment (`#p1`, a contained resource). Canonical references may carry a version (`url|1.0`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ParsedReference", "parse_reference", "reference_type"]

_ID = r"[A-Za-z0-9\-\.]{1,64}"
_RELATIVE = re.compile(rf"(?P<type>[A-Z][A-Za-z]+)/(?P<id>{_ID})(?:/_history/(?P<version>{_ID}))?")
_ABSOLUTE_TAIL = re.compile(rf"/(?P<type>[A-Z][A-Za-z]+)/(?P<id>{_ID})(?:/_history/(?P<version>{_ID}))?$")


@dataclass(frozen=True, slots=True)
class ParsedReference:
    """A local reference has `target_type` and `target_id`; anything else only a `url`."""

    target_type: str | None = None
    target_id: str | None = None
    version: str | None = None
    url: str | None = None


def parse_reference(text: str) -> ParsedReference | None:
    """Split a literal reference; None for contained (`#id`) or empty references."""
    text = text.strip()
    if not text or text.startswith("#"):
        return None
    match = _RELATIVE.fullmatch(text)
    if match:
        return ParsedReference(match["type"], match["id"], match["version"])
    if "|" in text:
        url, _, version = text.partition("|")
        return ParsedReference(url=url, version=version or None)
    return ParsedReference(url=text)


def reference_type(reference: dict[str, object]) -> str | None:
    """The type a Reference points to, from `type`, a relative reference or an absolute URL's tail."""
    declared = reference.get("type")
    if isinstance(declared, str) and declared:
        return declared
    text = reference.get("reference")
    if not isinstance(text, str):
        return None
    match = _RELATIVE.fullmatch(text) or _ABSOLUTE_TAIL.search(text)
    return match["type"] if match else None
