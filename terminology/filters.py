"""ValueSet.compose.include.filter, compiled against one code system (https://hl7.org/fhir/R4/valueset.html).

    flt = ConceptFilter(code_system, "concept", "is-a", "_ActAccountCode")
    flt.matches(concept)     # membership test for one concept
    flt.candidates()         # the codes it can select, when that is cheaper than scanning (else None)

Operations (http://hl7.org/fhir/filter-operator): `=`, `is-a`, `descendent-of`, `is-not-a`, `regex`, `in`,
`not-in`, `generalizes`, `exists`. The hierarchy operations apply to the properties `concept` / `code`;
the others to `concept`/`code` (the code), `display`, `parent` / `child` (direct neighbours), `inactive`,
and any property the concepts carry (a Coding value compares by its code, a boolean as `true`/`false`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from resources.errors import BadRequest
from terminology.code_system import CodeSystem, Concept

__all__ = ["ConceptFilter", "OPERATORS"]

OPERATORS = frozenset({"=", "is-a", "descendent-of", "is-not-a", "regex", "in", "not-in", "generalizes", "exists"})
HIERARCHY_OPERATORS = frozenset({"is-a", "descendent-of", "is-not-a", "generalizes"})
CODE_PROPERTIES = frozenset({"concept", "code"})


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ConceptFilter:
    """One filter of a compose include/exclude: `matches(concept)` and `candidates()`."""

    __slots__ = ("code_system", "property", "op", "value", "_selected", "_test")

    def __init__(self, code_system: CodeSystem, property: str, op: str, value: str) -> None:
        if op not in OPERATORS:
            raise BadRequest(f"Filter operator '{op}' is not supported", code="not-supported")
        if op in HIERARCHY_OPERATORS and property not in CODE_PROPERTIES:
            raise BadRequest(f"Filter '{property} {op}' is not supported: '{op}' applies to the property "
                             "'concept'", code="not-supported")
        self.code_system = code_system
        self.property = property
        self.op = op
        self.value = value
        self._selected: frozenset[str] | None = None  # codes selected, when the filter names them
        self._test: Callable[[Concept], bool] = self._compile()

    def __repr__(self) -> str:
        return f"ConceptFilter({self.property!r} {self.op} {self.value!r})"

    def matches(self, concept: Concept) -> bool:
        return self._test(concept)

    def candidates(self) -> frozenset[str] | None:
        """The codes this filter can select, when it names them (hierarchy, code lists); else None."""
        return self._selected

    # -- compiling -----------------------------------------------------------------------------------

    def _compile(self) -> Callable[[Concept], bool]:
        cs, op, value = self.code_system, self.op, self.value
        if self.property in CODE_PROPERTIES:
            if op in HIERARCHY_OPERATORS:
                root = cs.get(value)
                anchor = root.code if root is not None else value
                known = root is not None
                if op == "is-a":
                    selected = ({anchor} | cs.descendants(anchor)) if known else set()
                elif op == "descendent-of":
                    selected = set(cs.descendants(anchor)) if known else set()
                elif op == "generalizes":
                    selected = ({anchor} | cs.ancestors(anchor)) if known else set()
                else:  # is-not-a
                    excluded = frozenset({anchor} | cs.descendants(anchor)) if known else frozenset()
                    return lambda c: c.code not in excluded
                self._selected = frozenset(selected)
                chosen = self._selected
                return lambda c: c.code in chosen
            if op == "=":
                self._selected = frozenset({value})
            elif op == "in":
                self._selected = frozenset(_split(value))
            if self._selected is not None:
                chosen = self._selected
                return lambda c: c.code in chosen
            return self._value_test(lambda c: [c.code])
        if self.property == "display":
            return self._value_test(lambda c: [c.display] if c.display is not None else [])
        if self.property == "parent":
            return self._value_test(lambda c: c.parents)
        if self.property == "child":
            return self._value_test(lambda c: c.children)
        name = self.property
        if name == "inactive" and name not in cs.declared:
            return self._value_test(lambda c: [c.inactive])
        return self._value_test(lambda c: c.values(name))

    def _value_test(self, values: Callable[[Concept], list]) -> Callable[[Concept], bool]:
        op, value = self.op, self.value
        if op == "=":
            return lambda c: any(_text(v) == value for v in values(c))
        if op in ("in", "not-in"):
            wanted = frozenset(_split(value))
            if op == "in":
                return lambda c: any(_text(v) in wanted for v in values(c))
            return lambda c: not any(_text(v) in wanted for v in values(c))
        if op == "regex":
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise BadRequest(f"Filter regex '{value}' is not a valid regular expression: {exc}") from exc
            return lambda c: any(pattern.fullmatch(_text(v)) is not None for v in values(c))
        if op == "exists":
            if value not in ("true", "false"):
                raise BadRequest(f"Filter 'exists' takes true or false, not '{value}'")
            present = value == "true"
            return lambda c: bool(values(c)) == present
        raise BadRequest(f"Filter '{self.property} {op}' is not supported", code="not-supported")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
