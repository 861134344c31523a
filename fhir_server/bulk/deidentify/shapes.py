"""The data type of every JSON property of every R4 resource, from the vendored StructureDefinitions.

`shapes().child(shape, key)` answers what `key` holds inside an object of `shape`: its FHIR type
code (`HumanName`, `date`, `Reference`, the system types `=id`/`=uri`...) and, for objects, the
shape to walk into (a data type, or a backbone element of a resource, which content references
reuse). Choice elements are spelled out (`deceasedDateTime`), and `_key` (a primitive's id and
extensions) maps to the shape `Element`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from resources.definitions import structure_definitions

__all__ = ["Shape", "Child", "Shapes", "shapes", "NESTED"]

NESTED = ("BackboneElement", "Element")
Shape = tuple[str, str]  # (type name, path of a backbone element inside it; "" for the type itself)


@dataclass(frozen=True, slots=True)
class Child:
    type_code: str
    shape: Shape | None  # None for primitives
    primitive: bool


class Shapes:
    def __init__(self, types: dict[str, Any]) -> None:
        self.types = types
        self._children: dict[Shape, dict[str, Child]] = {}
        for name, entry in types.items():
            if entry["kind"] != "primitive":
                self._fill(name, entry["elements"])

    def _json_name(self, code: str) -> str:
        entry = self.types.get(code)
        return entry["base"] if entry is not None and entry.get("constraint") else code

    def _child(self, type_name: str, path: str, code: str) -> Child:
        if code.startswith("#"):
            return Child("BackboneElement", (type_name, code[1:]), False)
        if code in NESTED:
            return Child("BackboneElement", (type_name, path), False)
        if code.startswith("="):
            return Child(code, None, True)
        if code == "Resource":
            return Child("Resource", None, False)
        entry = self.types.get(code)
        if entry is not None and entry["kind"] == "primitive":
            return Child(code, None, True)
        return Child(code, (self._json_name(code) if entry and entry.get("constraint") else code, ""), False)

    def _fill(self, type_name: str, rows: list[list[Any]]) -> None:
        for path, _min, _max, _array, codes, _vs in rows:
            parent_path, _, name = path.rpartition(".")
            children = self._children.setdefault((type_name, parent_path), {})
            for code in codes:
                key = (name[:-3] + self._json_name(code)[0].upper() + self._json_name(code)[1:]
                       if name.endswith("[x]") else name)
                child = self._child(type_name, path, code)
                children[key] = child
                if child.primitive:
                    children["_" + key] = Child("Element", ("Element", ""), False)

    def child(self, shape: Shape, key: str) -> Child | None:
        return self._children.get(shape, {}).get(key)

    def is_resource_type(self, name: str) -> bool:
        entry = self.types.get(name)
        return entry is not None and entry["kind"] == "resource"


@cache
def shapes() -> Shapes:
    return Shapes(structure_definitions()["types"])
