"""A basic check of narrative XHTML (https://hl7.org/fhir/R4/narrative.html#xhtml).

The content must be well-formed XML whose root is a `div` in the XHTML namespace. HTML's named
entities (`&nbsp;`...) are accepted, as FHIR narrative commonly uses them. The finer rules of the
narrative (no scripts, forms or frames: invariant txt-1) are constraints, not checked here.
"""

from __future__ import annotations

import html.entities
import re
from xml.parsers import expat

__all__ = ["check_xhtml"]

XHTML_NS = "http://www.w3.org/1999/xhtml"
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")


def _numeric_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    codepoint = html.entities.name2codepoint.get(name)
    return f"&#{codepoint};" if codepoint is not None else match.group(0)


def check_xhtml(value: str) -> str | None:
    """None when `value` is a well-formed XHTML div, else the reason it is not."""
    if not value:
        return "empty strings are not allowed; leave the element out"
    parser = expat.ParserCreate(namespace_separator=" ")
    roots: list[str] = []

    def start(name: str, _attributes: object) -> None:
        if not roots:
            roots.append(name)

    parser.StartElementHandler = start
    try:
        parser.Parse(_ENTITY.sub(_numeric_entity, value) if "&" in value else value, True)
    except expat.ExpatError as exc:
        return f"the narrative is not well-formed XHTML: {expat.ErrorString(exc.code)} (line {exc.lineno})"
    if roots != [f"{XHTML_NS} div"]:
        found = roots[0].replace(" ", ":") if roots else "nothing"
        return f"the narrative must be a <div> in the XHTML namespace ({XHTML_NS}), not {found}"
    return None
