"""Builds an R4 instance of any resource type from the compiled definitions, every element filled.

Each optional element appears once (choice elements take a different variant per element, in turn),
required bindings get a code of their value set, and data types nest a few levels deep. The output
exercises every element path, data type and binding the validator knows, for all 146 types.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import count
from typing import Any

from resources.structure import COMPLEX, PRIMITIVE, RESOURCE, Element, Node, structures

PRIMITIVE_VALUES: dict[str, Any] = {
    "boolean": True,
    "integer": -3,
    "unsignedInt": 0,
    "positiveInt": 2,
    "decimal": Decimal("7.10"),
    "string": "some text",
    "markdown": "*some* text",
    "code": "a-code",
    "id": "a1.b-2",
    "uri": "http://example.org/x",
    "url": "http://example.org/y",
    "canonical": "http://example.org/StructureDefinition/z|1.0",
    "oid": "urn:oid:1.2.3.4",
    "uuid": "urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
    "base64Binary": "QUJD/+==",
    "date": "2020-02-29",
    "dateTime": "2020-02-29T13:28:17.239+02:00",
    "instant": "2020-02-29T13:28:17.239Z",
    "time": "23:59:60",
    "xhtml": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Narrative &amp; more&nbsp;text</p></div>',
}
NESTED_RESOURCE = {"resourceType": "Basic", "id": "nested", "code": {"text": "nested"}}


class InstanceBuilder:
    def __init__(self, max_depth: int = 3) -> None:
        self.structures = structures()
        self.max_depth = max_depth
        self.turn = count()

    def resource(self, resource_type: str) -> dict[str, Any]:
        body = self.object(self.structures.node(resource_type), 0)
        return {"resourceType": resource_type, **body}

    def object(self, node: Node, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        by_name: dict[str, list[Element]] = {}
        for element in node.children.values():
            by_name.setdefault(element.name, []).append(element)
        for name, variants in by_name.items():
            required = variants[0].min > 0
            if not required and (depth >= self.max_depth or name in ("contained", "modifierExtension")):
                continue
            if variants[0].max == 0:
                continue
            element = variants[next(self.turn) % len(variants)]
            value = self.value(element, depth)
            if value is None:
                if required:
                    raise ValueError(f"cannot build required {name} of {node.type_name}")
                continue
            out[element.key] = [value] if element.array else value
        if not out:  # too deep for optional elements, but an empty object is not allowed
            for element in node.children.values():
                if element.kind == PRIMITIVE and element.extensible and element.max != 0:
                    out[element.key] = self.value(element, depth)
                    if element.array:
                        out[element.key] = [out[element.key]]
                    break
            else:
                out["extension"] = [{"url": "http://example.org/ext", "valueString": "x"}]
        return out

    def value(self, element: Element, depth: int) -> Any:
        if element.kind == PRIMITIVE:
            if element.binding is not None:
                return sorted(element.binding.codes)[0]
            return PRIMITIVE_VALUES[element.type_code.removeprefix("=")]
        if element.kind == RESOURCE:
            return dict(NESTED_RESOURCE)
        assert element.kind == COMPLEX and element.node is not None
        if element.type_code == "Extension":
            return {"url": "http://example.org/ext", "valueString": "x"}
        if element.type_code.startswith("#") and depth >= 1 and element.min == 0:
            return None  # recursive backbone elements (Questionnaire.item.item): one level is enough
        value = self.object(element.node, depth + 1)
        if element.binding is not None:
            system, code = sorted(element.binding.pairs)[0]
            coding = {"system": system, "code": code}
            value = coding if element.type_code == "Coding" else {"coding": [coding]}
        return value or None
