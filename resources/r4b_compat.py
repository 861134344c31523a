"""Which R4 resource types the `fhir.resources` R4B models describe exactly (used when vendoring).

`fhir.resources` 8 ships no R4 models; its R4B (4.3.0) models accept most R4 resources, but R4B
dropped or reshaped some types. A resource type qualifies for the second validation layer only when
its R4B model has exactly the R4 JSON properties, recursively through its backbone elements, each
with the same type, the same single/array shape and the same required-ness, and the R4B primitive
validators accept a set of edge-case values that R4 allows. Data types get the narrower treatment
described on `_Comparison`. The answer is computed by `tools/vendor_structure_definitions.py` and
stored with the definitions.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

__all__ = ["matching_types"]

# Values R4 accepts for each primitive type (https://hl7.org/fhir/R4/datatypes.html): R4B must too.
R4_EDGE_VALUES: dict[str, list[Any]] = {
    "boolean": [True, False],
    "integer": [0, -2147483648, 2147483647],
    "unsignedInt": [0, 2147483647],
    "positiveInt": [1, 2147483647],
    "decimal": [0, Decimal("7.10"), Decimal("-0.5"), Decimal("1E+2"), Decimal("1.5e-3")],
    "string": ["a", " padded ", "line\nbreak", "\u00fcnicode"],
    "markdown": ["*a*", "line\n\nbreak"],
    "code": ["a", "two words"],
    "id": ["a", "A-1.b", "x" * 64],
    "uri": ["http://example.org/a", "urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "#frag", "Patient/1"],
    "url": ["http://example.org/a", "mailto:a@example.org", "ftp://example.org/a", "mllp://host:2575"],
    "canonical": ["http://hl7.org/fhir/ValueSet/x|4.0.1", "#local"],
    "oid": ["urn:oid:1.2.3.4"],
    "uuid": ["urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "urn:uuid:a8098c1a-f86e-11da-bd1a-00112444be1e"],
    "base64Binary": ["QUJD", "ab/+", "AAAA\nBBBB"],
    "date": ["2018", "1973-06", "1905-08-23"],
    "dateTime": ["2018", "1973-06", "2015-02-07T13:28:17.239+02:00", "2016-12-31T23:59:60Z"],
    "instant": ["2015-02-07T13:28:17.239+02:00", "2017-01-01T00:00:00Z"],
    "time": ["12:00:00", "23:59:60", "08:30:00.5"],
    "xhtml": ['<div xmlns="http://www.w3.org/1999/xhtml">a</div>'],
}


def _capitalised(name: str) -> str:
    return name[0].upper() + name[1:]


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, type(int | None)):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def _shape(annotation: Any) -> tuple[bool, Any]:
    """(is a list, the element type) of a model field's annotation."""
    inner = _without_none(annotation)
    if typing.get_origin(inner) is list:
        return True, _without_none(typing.get_args(inner)[0])
    return False, inner


def _primitive_name(inner: Any) -> str | None:
    for meta in getattr(inner, "__metadata__", ()):
        name = getattr(meta, "__visit_name__", None)
        if name:
            return str(name)
    if typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    return {bool: "boolean", Decimal: "decimal", int: "integer", str: "string", UUID: "uuid"}.get(inner)


class _Comparison:
    """Compares compiled R4 element tables with R4B model classes.

    Resources and their backbone elements must match exactly. Data types are shared by every
    resource, so there a difference is narrowed to the property: an R4 property that R4B lacks, or
    types differently, or whose R4B validator refuses R4 values is recorded as *unsafe* (the model
    layer is skipped for a resource that uses it), and a property only R4B has is harmless (the R4
    validator refuses it first). A data type whose shape differs in any other way fails the resources.
    """

    def __init__(self, types: dict[str, dict[str, Any]]):
        self.types = types
        self.done: dict[tuple[str, str, str], str | None] = {}
        self.unsafe: dict[str, set[str]] = {}
        self.refused: dict[str, bool] = {}

    def children(self, type_name: str, prefix: str) -> dict[str, tuple[list[Any], str]]:
        """JSON property -> (element row, R4 type) for the direct children of `prefix` in a type."""
        out: dict[str, tuple[list[Any], str]] = {}
        for row in self.types[type_name]["elements"]:
            path = row[0]
            if prefix:
                if not path.startswith(prefix + "."):
                    continue
                path = path[len(prefix) + 1 :]
            if "." in path:
                continue
            if path.endswith("[x]"):
                for code in row[4]:
                    base = self.types[code]["base"] if self.types.get(code, {}).get("constraint") else code
                    out[path[:-3] + _capitalised(base)] = (row, code)
            else:
                out[path] = (row, row[4][0])
        return out

    def compare(self, type_name: str, prefix: str, model: Any) -> str | None:
        """None when the model matches the R4 element `prefix` of `type_name`, else the first difference."""
        key = (type_name, prefix, model.__name__)
        if key in self.done:
            return self.done[key]
        self.done[key] = None  # a cycle (Identifier -> Reference -> Identifier) assumes a match
        result = self._compare(type_name, prefix, model)
        self.done[key] = result
        return result

    def _compare(self, type_name: str, prefix: str, model: Any) -> str | None:
        where = f"{type_name}.{prefix}" if prefix else type_name
        exact = self.types[type_name]["kind"] == "resource"
        mine = self.children(type_name, prefix)
        aliases = {f.alias for f in model.model_fields.values() if f.alias}
        theirs = {
            f.alias: f for name, f in model.model_fields.items()
            if f.alias and not f.alias.startswith("_") and name not in ("fhir_comments", "resource_type")
        }
        # a primitive's `_name` (its id and extensions) must be accepted too
        no_extension = sorted(
            "_" + prop for prop, (_row, code) in mine.items()
            if code in self.types and self.types[code]["kind"] == "primitive" and "_" + prop not in aliases
        )
        if exact and no_extension:
            return f"{where}: R4B lacks {no_extension}"
        for prop in no_extension:
            self.unsafe.setdefault(type_name, set()).add(prop)
        extra, missing = sorted(set(theirs) - set(mine)), sorted(set(mine) - set(theirs))
        if exact and (extra or missing):
            return f"{where}: R4B adds {extra}, lacks {missing}"
        for prop in missing:
            self.unsafe.setdefault(type_name, set()).add(prop)
        for prop, (row, code) in mine.items():
            if prop in missing:
                continue
            field = theirs[prop]
            is_list, inner = _shape(field.annotation)
            if is_list != row[3]:
                return f"{where}.{prop}: array in one version only"
            schema_extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            required = field.is_required() or bool(schema_extra.get("element_required"))
            if "one_of_many" in schema_extra:
                required = bool(schema_extra.get("one_of_many_required"))
            if required != (row[1] > 0):
                return f"{where}.{prop}: required in one version only"
            problem = self._compare_type(type_name, row, code, inner, f"{where}.{prop}")
            if problem and exact:
                return problem
            if problem:
                self.unsafe.setdefault(type_name, set()).add(prop)
        return None

    def _compare_type(self, type_name: str, row: list[Any], code: str, inner: Any, where: str) -> str | None:
        primitive = _primitive_name(inner)
        code = code.removeprefix("=")  # a FHIRPath System value, checked as this FHIR type
        if primitive is not None:
            if primitive != code:
                return f"{where}: {code} in R4, {primitive} in R4B"
            return f"{where}: R4B refuses R4 {code} values" if self._refuses(code, inner) else None
        klass = inner.get_model_klass() if hasattr(inner, "get_model_klass") else None
        if klass is None:
            return f"{where}: unknown R4B type {inner!r}"
        if code.startswith("#"):
            return self.compare(type_name, code[1:], klass)
        if code in ("BackboneElement", "Element") and row[0]:
            return self.compare(type_name, row[0], klass)
        if code == "Resource":
            return None if klass.__name__ == "Resource" else f"{where}: Resource in R4, {klass.__name__} in R4B"
        r4_type = self.types[code]["base"] if self.types[code].get("constraint") else code
        if klass.__name__ != r4_type:
            return f"{where}: {r4_type} in R4, {klass.__name__} in R4B"
        return self.compare(r4_type, "", klass)

    def _refuses(self, code: str, annotation: Any) -> bool:
        """Whether R4B's validator for this primitive refuses a value R4 allows."""
        key = f"{code}:{annotation!r}"
        if key not in self.refused:
            adapter = TypeAdapter(annotation)
            refused = False
            for value in R4_EDGE_VALUES.get(code, []):
                try:
                    adapter.validate_python(value)
                except ValueError:
                    refused = True
            self.refused[key] = refused
        return self.refused[key]


def matching_types(
    types: dict[str, dict[str, Any]],
    resource_types: list[str],
    model_class: Callable[[str], Any] | None = None,
) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """(resource types whose R4B model matches R4, {data type: its unsafe R4 properties},
    {other resource type: the first difference found})."""
    if model_class is None:
        from fhir.resources.R4B import get_fhir_model_class as model_class
    comparison = _Comparison(types)
    matching: list[str] = []
    differences: dict[str, str] = {}
    for name in resource_types:
        try:
            model = model_class(name)
        except ValueError:
            differences[name] = "no R4B model"
            continue
        problem = comparison.compare(name, "", model)
        if problem:
            differences[name] = problem
        else:
            matching.append(name)
    unsafe = {name: sorted(props) for name, props in sorted(comparison.unsafe.items())}
    return matching, unsafe, differences
