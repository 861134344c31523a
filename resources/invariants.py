"""The R4 invariants (FHIRPath `constraint`s such as `pat-1`, `per-1`, `dom-3`) as a `ConstraintChecker`.

    check = InvariantChecker()
    issues = check(resource)    # a ValidationIssue per invariant that does not hold

The invariants come from `resources/definitions/invariants.json.gz` (vendored from the R4
StructureDefinitions). Each expression is compiled with `fhirpathpy` once, the first time a type is
met. Resource invariants (and those of DomainResource and Resource) are evaluated on every resource,
contained and bundled ones included; data type invariants on every occurrence of the type, found by
walking the resource along the compiled element trees. An invariant on an element below the root
(`Patient.contact`) is evaluated as `contact.where((expression) = false).empty()`: it holds where the
expression is true or empty, as at the root.

Best-practice invariants (`dom-6`: a resource should have a narrative) are left out unless asked
for with `best_practice=True`, as the HL7 validator does. Not evaluated: `ele-1` (every element has a value or children: the structural validator refuses empty
objects, arrays and strings already), and the invariants in `KNOWN_BROKEN`, which are wrong in R4
itself or need what fhirpathpy lacks; each names its reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from resources.definitions import load
from resources.issues import ValidationIssue
from resources.structure import COMPLEX, RESOURCE, Node, structures

__all__ = ["InvariantChecker", "KNOWN_BROKEN", "Invariant", "compile_invariant"]

SKIPPED = {"ele-1": "covered by the structural validator (no empty objects, arrays or strings), and costly"}
KNOWN_BROKEN: dict[str, str] = {
    "txt-1": "htmlChecks() over the xhtml `div`: fhirpathpy cannot navigate xhtml; resources.xhtml checks it",
    "txt-2": "htmlChecks() over the xhtml `div`: fhirpathpy cannot navigate xhtml; resources.xhtml checks it",
    "dom-3": "applies as(canonical) to collections, which fhirpathpy (rightly, by FHIRPath N1) refuses",
    "ctm-1": "needs resolve(), which fhirpathpy does not implement",
    "rng-2": "compares two Quantities with <=, which fhirpathpy cannot do (no UCUM-aware comparison)",
}


def _has_value(inputs: list[Any]) -> bool:
    """FHIRPath `hasValue()`: one primitive with a value (not only extensions); fhirpathpy lacks it."""
    return len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], (dict, list))


def _html_checks(inputs: list[Any]) -> bool:
    """FHIRPath `htmlChecks()` (txt-1, txt-2): the structural validator checks the XHTML already."""
    return True


def _trace(inputs: list[Any], *_: Any) -> list[Any]:
    """FHIRPath `trace()` without printing to stdout (dom-3, ref-1 call it)."""
    return inputs


FUNCTIONS = {
    "hasValue": {"fn": _has_value},
    "htmlChecks": {"fn": _html_checks},
    "trace": {"fn": _trace, "arity": {1: ["String"], 2: ["String", "Any"]}},
}
OPTIONS = {"userInvocationTable": FUNCTIONS}


@dataclass(frozen=True, slots=True)
class Invariant:
    key: str
    severity: str
    human: str
    type_name: str
    path: str  # below the type's root: "" for the root, "contact" for Patient.contact
    expression: str
    evaluate: Callable[[Any, dict[str, Any]], list[Any]]

    def holds(self, value: dict[str, Any], resource: dict[str, Any], root: dict[str, Any]) -> bool:
        """Whether the invariant holds on `value` (of this type) within `resource` (%resource), itself
        within `root` (%rootResource: the container of a contained resource, else `resource`)."""
        return self.evaluate(value if "resourceType" in value else ResourceNode.create_node(value, self.type_name),
                             {"resource": resource, "rootResource": root}) != [False]


def compile_invariant(key: str, severity: str, human: str, element_path: str, expression: str) -> Invariant:
    """One invariant on `element_path` (`Patient.contact`), compiled for its type's root."""
    type_name, _, below = element_path.partition(".")
    # not all(): an empty result satisfies an invariant, but is not `true` to all()
    text = f"{below}.where(({expression}) = false).empty()" if below else expression
    compiled = fhirpathpy.compile(text, model=models["r4"], options=OPTIONS)
    return Invariant(key, severity, human, type_name, below, expression, compiled)


class InvariantChecker:
    """A `ConstraintChecker` evaluating the R4 invariants; thread-safe, compiled lazily by type."""

    def __init__(self, skip: frozenset[str] = frozenset(SKIPPED) | frozenset(KNOWN_BROKEN), *,
                 best_practice: bool = False) -> None:
        self._best_practice = best_practice
        self._types: dict[str, Any] = load("invariants.json.gz")["types"]
        self._skip = skip
        self._compiled: dict[str, tuple[Invariant, ...]] = {}
        self._lock = threading.Lock()
        self._nodes = structures().nodes

    def invariants(self, type_name: str) -> tuple[Invariant, ...]:
        """The invariants of a type and of the types it derives from."""
        found = self._compiled.get(type_name)
        if found is None:
            with self._lock:
                found = self._compiled.get(type_name)
                if found is None:
                    found = tuple(self._compile(type_name))
                    self._compiled[type_name] = found
        return found

    def _compile(self, type_name: str) -> list[Invariant]:
        compiled = []
        name: str | None = type_name
        while name is not None and name in self._types:
            entry = self._types[name]
            for path, key, severity, expression, human, best_practice in entry["invariants"]:
                if key not in self._skip and (self._best_practice or not best_practice):
                    compiled.append(compile_invariant(key, severity, human, path, expression))
            name = entry["base"]
        return compiled

    def __call__(self, resource: dict[str, Any], /) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        self._resource(resource, resource["resourceType"], resource, issues)
        return issues

    def _check(self, type_name: str, value: dict[str, Any], where: str, resource: dict[str, Any],
               issues: list[ValidationIssue], root: dict[str, Any] | None = None) -> None:
        for invariant in self.invariants(type_name):
            try:
                holds = invariant.holds(value, resource, root or resource)
            except Exception as exc:  # noqa: BLE001 - fhirpathpy raises bare Exceptions and KeyErrors
                issues.append(ValidationIssue("warning", "not-supported",
                                              f"{invariant.key} could not be evaluated: {exc}", where))
                continue
            if not holds:
                severity = "error" if invariant.severity == "error" else "warning"
                path = f"{where}.{invariant.path}" if invariant.path else where
                issues.append(ValidationIssue(severity, "invariant",
                                              f"{invariant.key}: {invariant.human}", path))

    def _resource(self, resource: dict[str, Any], where: str, container: dict[str, Any],
                  issues: list[ValidationIssue]) -> None:
        res_type = resource.get("resourceType")
        node = self._nodes.get(res_type) if isinstance(res_type, str) else None
        if node is None:
            return
        # a contained resource's %rootResource is its container; a Bundle's entries are their own roots
        root = container if "contained" in container and resource in container["contained"] else resource
        self._check(res_type, resource, where, resource, issues, root)  # type: ignore[arg-type]
        self._walk(resource, node, where, resource, issues, root)

    def _walk(self, obj: dict[str, Any], node: Node, where: str, resource: dict[str, Any],
              issues: list[ValidationIssue], root: dict[str, Any]) -> None:
        for key, value in obj.items():
            element = node.children.get(key)
            if element is None or element.kind not in (COMPLEX, RESOURCE):
                continue
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                path = f"{where}.{key}[{index}]" if isinstance(value, list) else f"{where}.{key}"
                if element.kind == RESOURCE:
                    self._resource(item, path, resource, issues)
                    continue
                if element.type_code[:1].isupper() and element.type_code not in ("BackboneElement", "Element"):
                    self._check(element.type_code, item, path, resource, issues, root)
                if element.node is not None:
                    self._walk(item, element.node, path, resource, issues, root)
