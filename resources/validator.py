"""R4 structural validation of a parsed JSON resource (https://hl7.org/fhir/R4/json.html).

`validate()` walks the resource against the compiled R4 definitions and lists every problem with a
FHIRPath expression: unknown or misspelt properties, arrays where a single value belongs and the
reverse, cardinality, JSON nulls and empty strings/arrays/objects, choice types, primitive values and
their `_name` extensions, data types and backbone elements recursively, nested resources by their own
`resourceType`, and bindings to value sets the specification enumerates: a code outside a `required`
binding is an error, outside an `extensible` or `preferred` one a warning
(https://hl7.org/fhir/R4/terminologies.html#strength).

Then, when the structure is sound, two optional layers run: the `fhir.resources` R4B models for the
resource types whose R4B model is R4's (`resources.r4b_models`), and any constraint checkers the
caller passes (`resources.constraints`; `resources.invariants` evaluates the R4 invariants).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resources.constraints import ConstraintChecker
from resources.issues import ValidationIssue
from resources.registry import R4B_MODEL_TYPES, RESOURCE_TYPES
from resources.structure import COMPLEX, PRIMITIVE, Binding, Element, Node, structures

__all__ = ["validate"]


def _error(code: str, diagnostics: str, expression: str) -> ValidationIssue:
    return ValidationIssue("error", code, diagnostics, expression)


def _not_in(binding: Binding, diagnostics: str, expression: str) -> ValidationIssue:
    """A code outside a binding's value set: an error when the binding is required, else a warning."""
    text = f"{diagnostics} {binding.strength} value set {binding.url}"
    if binding.strength == "required":
        return _error("code-invalid", text, expression)
    return ValidationIssue("warning", "code-invalid", text, expression)


class _Walk:
    """One validation run: the issues found and whether the R4B layer may look at the resource."""

    __slots__ = ("issues", "nodes", "element_node", "r4b_safe", "bindings")

    def __init__(self, bindings: bool = True) -> None:
        found = structures()
        self.bindings = bindings
        self.issues: list[ValidationIssue] = []
        self.nodes = found.nodes
        self.element_node = found.nodes["Element"]
        self.r4b_safe = True

    def resource(self, obj: dict[str, Any], path: str | None) -> None:
        resource_type = obj.get("resourceType")
        where = path or "Resource"
        if resource_type is None:
            self.issues.append(_error("required", "resourceType is missing", where))
        elif type(resource_type) is not str or resource_type not in RESOURCE_TYPES:
            self.issues.append(_error(
                "not-supported", f"'{resource_type}' is not an R4 resource type", f"{where}.resourceType"
            ))
        else:
            if resource_type not in R4B_MODEL_TYPES:
                self.r4b_safe = False
            self.object(obj, self.nodes[resource_type], path or resource_type)

    def object(self, obj: dict[str, Any], node: Node, path: str) -> None:
        children = node.children
        issues = self.issues
        choices: dict[str, str] | None = None
        for key, value in obj.items():
            element = children.get(key)
            if element is None:
                if key[:1] == "_":
                    self.primitive_extension(obj, key, value, children.get(key[1:]), path)
                elif key != "resourceType" or not node.is_resource:
                    issues.append(_error("structure", f"unknown element '{key}'", f"{path}.{key}"))
                continue
            if element.choice is not None:
                if choices is None:
                    choices = {}
                other = choices.setdefault(element.choice, key)
                if other != key:
                    issues.append(_error(
                        "structure", f"{element.choice} has more than one value: '{other}' and '{key}'",
                        f"{path}.{key}",
                    ))
            if element.r4b_unsafe:
                self.r4b_safe = False
            if value is None:
                issues.append(_error("structure", "null is not allowed here", f"{path}.{key}"))
            elif element.array:
                if type(value) is not list:
                    issues.append(_error("structure", f"'{key}' must be an array", f"{path}.{key}"))
                elif not value:
                    issues.append(_error("structure", "empty arrays are not allowed", f"{path}.{key}"))
                else:
                    if element.max is not None and len(value) > element.max:
                        issues.append(_error(
                            "structure", f"at most {element.max} '{key}' allowed, found {len(value)}",
                            f"{path}.{key}",
                        ))
                    if element.kind == PRIMITIVE:
                        self.primitive_array(obj, key, value, element, path)
                    else:
                        for index, item in enumerate(value):
                            self.value(element, item, f"{path}.{key}[{index}]")
            elif type(value) is list:
                issues.append(_error("structure", f"'{key}' is a single element, not an array", f"{path}.{key}"))
            elif element.max == 0:
                issues.append(_error("structure", f"'{key}' is not allowed here", f"{path}.{key}"))
            else:
                self.value(element, value, f"{path}.{key}")
        for name, keys in node.required:
            for key in keys:
                if key in obj:
                    break
            else:
                issues.append(_error("required", f"'{name}' is required", f"{path}.{name}"))

    def value(self, element: Element, value: Any, path: str) -> None:
        kind = element.kind
        if kind == PRIMITIVE:
            problem = element.check(value)  # type: ignore[misc]
            if problem is not None:
                self.issues.append(_error("value", problem, path))
            elif element.binding is not None and self.bindings and value not in element.binding.codes:
                self.issues.append(_not_in(element.binding, f"'{value}' is not in the", path))
        elif type(value) is not dict:
            self.issues.append(_error("structure", f"'{element.key}' must be a JSON object", path))
        elif not value:
            self.issues.append(_error("structure", "empty objects are not allowed", path))
        elif kind == COMPLEX:
            self.object(value, element.node, path)  # type: ignore[arg-type]
            if element.binding is not None and self.bindings:
                self.coded(value, element, path)
        else:
            self.resource(value, path)

    def primitive_array(
        self, obj: dict[str, Any], key: str, values: list[Any], element: Element, path: str
    ) -> None:
        extensions = obj.get("_" + key)
        if type(extensions) is not list:
            extensions = None
        for index, item in enumerate(values):
            if item is None:
                if extensions is None or index >= len(extensions) or extensions[index] is None:
                    self.issues.append(_error(
                        "structure", f"null is only allowed where '_{key}' has an extension",
                        f"{path}.{key}[{index}]",
                    ))
            else:
                self.value(element, item, f"{path}.{key}[{index}]")

    def primitive_extension(
        self, obj: dict[str, Any], key: str, value: Any, element: Element | None, path: str
    ) -> None:
        """`_name`: the id and extensions of the primitive `name` (https://hl7.org/fhir/R4/json.html#primitive)."""
        name = key[1:]
        if element is None or element.kind != PRIMITIVE or not element.extensible:
            self.issues.append(_error("structure", f"unknown element '{key}'", f"{path}.{key}"))
            return
        if element.r4b_unsafe_extension:
            self.r4b_safe = False
        if not element.array:
            if type(value) is list:
                self.issues.append(_error("structure", f"'{key}' is a single element, not an array", f"{path}.{key}"))
            else:
                self.element_object(value, f"{path}.{name}")
            return
        if type(value) is not list:
            self.issues.append(_error("structure", f"'{key}' must be an array", f"{path}.{key}"))
            return
        if not value:
            self.issues.append(_error("structure", "empty arrays are not allowed", f"{path}.{key}"))
            return
        values = obj.get(name)
        if type(values) is list and len(values) != len(value):
            self.issues.append(_error(
                "structure", f"'{key}' has {len(value)} items but '{name}' has {len(values)}", f"{path}.{key}"
            ))
        if name not in obj and element.max is not None and len(value) > element.max:
            self.issues.append(_error(
                "structure", f"at most {element.max} '{name}' allowed, found {len(value)}", f"{path}.{key}"
            ))
        for index, item in enumerate(value):
            if item is None:
                if type(values) is not list or index >= len(values) or values[index] is None:
                    self.issues.append(_error(
                        "structure", f"null is only allowed where '{name}' has a value", f"{path}.{key}[{index}]"
                    ))
            else:
                self.element_object(item, f"{path}.{name}[{index}]")

    def element_object(self, value: Any, path: str) -> None:
        if value is None:
            self.issues.append(_error("structure", "null is not allowed here", path))
        elif type(value) is not dict:
            self.issues.append(_error("structure", "a primitive's extension must be a JSON object", path))
        elif not value:
            self.issues.append(_error("structure", "empty objects are not allowed", path))
        else:
            self.object(value, self.element_node, path)

    def coded(self, value: dict[str, Any], element: Element, path: str) -> None:
        """A Coding or CodeableConcept under a required binding must carry a code of the value set; under
        an extensible or preferred one, a coded value (text alone is fine) should."""
        binding = element.binding
        if binding is None:
            return
        codings = [value] if element.type_code == "Coding" else value.get("coding")
        if type(codings) is not list:
            codings = []
        if binding.strength != "required" and not codings:
            return
        for coding in codings:
            if type(coding) is not dict:
                continue
            code, system = coding.get("code"), coding.get("system")
            if type(code) is not str or not (system is None or type(system) is str):
                return  # a malformed coding is reported by the structural checks
            if (system, code) in binding.pairs or (system is None and code in binding.codes):
                return
        if element.type_code == "Coding" and "code" not in value:
            return
        self.issues.append(_not_in(binding, "no code from the", path))


def validate(
    resource: Any,
    *,
    with_models: bool = True,
    constraints: Sequence[ConstraintChecker] = (),
    warnings: bool = False,
    bindings: bool = True,
) -> list[ValidationIssue]:
    """Every problem that makes `resource` (as parsed by `resources.fhir_json.loads`) invalid R4; [] if none.

    `with_models` adds the `fhir.resources` R4B model validation for the resource types where R4B's
    model is R4's; `constraints` are further checks run on a structurally valid resource. `warnings`
    adds what is valid but questionable: codes outside extensible and preferred bindings. `bindings=False`
    skips every binding check (for measuring what they cost).
    """
    if type(resource) is not dict:
        return [_error("structure", "a resource must be a JSON object", "Resource")]
    walk = _Walk(bindings)
    try:
        walk.resource(resource, None)
    except RecursionError:
        return [_error("too-costly", "the resource is nested too deeply to validate", "Resource")]
    issues = walk.issues if warnings else [issue for issue in walk.issues if issue.severity != "warning"]
    if any(issue.severity == "error" for issue in issues):
        return issues
    if with_models and walk.r4b_safe:
        from resources.r4b_models import model_issues

        issues = issues + model_issues(resource)
    for checker in constraints:
        issues.extend(checker(resource))
    return issues
