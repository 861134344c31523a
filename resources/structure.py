"""The compiled element trees the validator walks, built from the vendored tables once for all types.

Each `Node` is one JSON object shape (a resource, a backbone element or a data type) and maps every
JSON property it may hold to an `Element`: choice elements are spelled out (`value[x]` becomes
`valueQuantity`, `valueString`...), so the validator needs one dictionary look-up per property.
Data type nodes are shared; cycles (Identifier -> Reference -> Identifier) are fine because a node is
registered before its children are filled in. All trees are built together (about 30 ms) when first
needed and never change afterwards, so threads can share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from resources.definitions import binding_strengths, required_value_sets, structure_definitions
from resources.primitives import Checker, checkers

__all__ = ["PRIMITIVE", "COMPLEX", "RESOURCE", "Binding", "Element", "Node", "Structures", "structures"]

PRIMITIVE, COMPLEX, RESOURCE = 0, 1, 2
NESTED = ("BackboneElement", "Element")
CODED = ("Coding", "CodeableConcept")


@dataclass(frozen=True, slots=True)
class Binding:
    """A binding to a value set the specification enumerates: `required` (a code outside it is an
    error), or `extensible` / `preferred` (a warning)."""

    url: str
    codes: frozenset[str]
    pairs: frozenset[tuple[str, str]]  # (system, code)
    strength: str = "required"


@dataclass(slots=True)
class Node:
    type_name: str
    is_resource: bool
    children: dict[str, Element] = field(default_factory=dict)
    # (element name for messages, the JSON properties any of which satisfies min >= 1)
    required: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


@dataclass(slots=True)
class Element:
    key: str  # the JSON property: `valueQuantity`
    name: str  # the element's name in the definition: `value[x]`
    min: int
    max: int | None  # None: unbounded
    array: bool
    type_code: str
    kind: int
    check: Checker | None = None  # primitives
    node: Node | None = None  # complex types and backbone elements
    binding: Binding | None = None
    choice: str | None = None  # `value[x]` for each of its variants
    extensible: bool = True  # primitives: may have `_key`; not FHIRPath System values such as Element.id
    r4b_unsafe: bool = False  # R4B does not take this property as R4 defines it
    r4b_unsafe_extension: bool = False  # ... nor its `_key` (a primitive's id and extensions)


def _capitalised(name: str) -> str:
    return name[0].upper() + name[1:]


class Structures:
    """Element trees for every R4 resource and data type."""

    def __init__(self, data: dict[str, Any], value_sets: dict[str, dict[str, list[str]]],
                 strengths: dict[str, Any] | None = None):
        self.types: dict[str, dict[str, Any]] = data["types"]
        strengths = strengths or {"bindings": {}, "valueSets": {}}
        self.weaker: dict[str, dict[str, list[str]]] = strengths["bindings"]
        self.weaker_value_sets: dict[str, dict[str, list[str]]] = strengths["valueSets"]
        self.checkers = checkers(
            {n: t.get("regex") for n, t in self.types.items() if t["kind"] == "primitive"}
        )
        self.unsafe: dict[str, set[str]] = {n: set(p) for n, p in data["r4bUnsafeProperties"].items()}
        self.value_sets = value_sets
        self.bindings: dict[str, Binding] = {}
        self.nodes: dict[str, Node] = {}
        for name, entry in self.types.items():
            if entry["kind"] != "primitive":
                self.node(name)

    def node(self, type_name: str) -> Node:
        """The tree of a resource or complex data type (KeyError for an unknown name).

        Used while building; afterwards every tree is in `nodes`.
        """
        found = self.nodes.get(type_name)
        if found is None:
            entry = self.types[type_name]
            found = Node(type_name, entry["kind"] == "resource")
            self.nodes[type_name] = found  # before the children: data types refer to each other
            self._fill(type_name, entry["elements"], found)
        return found

    def _fill(self, type_name: str, rows: list[list[Any]], root: Node) -> None:
        nodes = {"": root}
        for path, _min, _max, _array, codes, _vs in rows:
            if codes[0] in NESTED:
                nodes[path] = Node(type_name, False)
        unsafe = self.unsafe.get(type_name, set())
        for path, min_, max_, array, codes, vs in rows:
            parent_path, _, name = path.rpartition(".")
            parent = nodes[parent_path]
            choice = name if name.endswith("[x]") else None
            keys = []
            for code in codes:
                key = name[:-3] + _capitalised(self._json_name(code)) if choice else name
                element = self._element(key, name, min_, max_, array, code, nodes, path, vs)
                element.choice = choice
                element.r4b_unsafe = key in unsafe and parent is root
                element.r4b_unsafe_extension = "_" + key in unsafe and parent is root
                parent.children[key] = element
                keys.append(key)
                if element.kind == PRIMITIVE and element.extensible:
                    keys.append("_" + key)
            if min_ > 0:
                parent.required.append((name, tuple(keys)))

    def _json_name(self, code: str) -> str:
        entry = self.types.get(code)
        return entry["base"] if entry is not None and entry.get("constraint") else code

    def _element(
        self, key: str, name: str, min_: int, max_: str, array: bool, code: str, nodes: dict[str, Node],
        path: str, vs: str | None,
    ) -> Element:
        maximum = None if max_ == "*" else int(max_)
        element = Element(key, name, min_, maximum, array, code, COMPLEX)
        if code.startswith("#"):
            element.node = nodes[code[1:]]  # contentReference: the same backbone element again
        elif code in NESTED:
            element.node = nodes[path]
        elif code == "Resource":
            element.kind = RESOURCE
        elif code.startswith("="):
            element.kind = PRIMITIVE
            element.check = self.checkers[code[1:]]
            element.extensible = False
        elif self.types[code]["kind"] == "primitive":
            element.kind = PRIMITIVE
            element.check = self.checkers[code]
        else:
            element.node = self.node(code)
        if element.kind == PRIMITIVE or code in CODED:
            if vs is not None:
                element.binding = self._binding(vs)
            elif (weaker := self._weaker(nodes[""].type_name, path)) is not None:
                element.binding = self._binding(weaker[1], weaker[0])
        return element

    def _weaker(self, type_name: str, path: str) -> list[str] | None:
        """The extensible or preferred binding of `path` in `type_name` or the base type it comes from."""
        name: str | None = type_name
        while name is not None:
            found = self.weaker.get(name, {}).get(path)
            if found is not None:
                return found
            name = self.types[name].get("base") if name in self.types else None
        return None

    def _binding(self, url: str, strength: str = "required") -> Binding:
        found = self.bindings.get(url) if strength == "required" else self.bindings.get(f"{strength} {url}")
        if found is None:
            systems = self.value_sets[url] if strength == "required" else self.weaker_value_sets[url]
            found = Binding(
                url,
                frozenset(code for codes in systems.values() for code in codes),
                frozenset((system, code) for system, codes in systems.items() for code in codes),
                strength,
            )
            self.bindings[url if strength == "required" else f"{strength} {url}"] = found
        return found


@cache
def structures() -> Structures:
    """The element trees of the vendored R4 definitions (built on first call, shared by every caller)."""
    return Structures(structure_definitions(), required_value_sets(), binding_strengths())
