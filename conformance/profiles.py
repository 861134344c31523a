"""Validation against the profiles this server knows: US Core 5.0.1 (`conformance/data/`), by
`meta.profile` or the `$validate` `profile` parameter (https://hl7.org/fhir/R4/profiling.html).

    profiles = Profiles(member=...)        # member(value_set_url, system, code) -> bool | None
    profiles.knows(url)                    # whether `url` (optionally `|version`) is one of them
    profiles.validate(resource, url)       # [ValidationIssue]

What a profile adds to its base is checked: cardinality that differs from the base element's,
`fixed[x]` (exact) and `pattern[x]` (contained) values, required bindings to value sets outside the
core specification (the core's own bindings are the structural validator's) when the terminology
knows the value set, slices (discriminated by `value` or `pattern`, each with its own cardinality and
constraints), extensions by their own profile, and the profile's invariants (`us-core-6`).
`mustSupport` says what a system must be able to handle, not what an instance must hold: ignored.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources as importlib_resources
from typing import Any

from resources import Invariant, ValidationIssue, compile_invariant

__all__ = ["Profiles", "Member"]

DATA = "us-core-5.0.1.json.gz"
CORE_VALUE_SETS = "http://hl7.org/fhir/ValueSet/"
Member = Callable[[str, str | None, str], bool | None]


def _max(value: str) -> int | None:
    return None if value == "*" else int(value)


def _declared_value(element: dict[str, Any]) -> tuple[str, Any] | None:
    for key, value in element.items():
        if key.startswith("fixed"):
            return "fixed", value
        if key.startswith("pattern"):
            return "pattern", value
    return None


def _contains(actual: Any, pattern: Any) -> bool:
    """FHIR pattern matching: every property of the pattern is in the value, arrays item by item."""
    if isinstance(pattern, dict):
        return isinstance(actual, dict) and all(k in actual and _contains(actual[k], v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(actual, list) and all(any(_contains(a, p) for a in actual) for p in pattern)
    return actual == pattern


def _matches(actual: Any, declared: tuple[str, Any]) -> bool:
    kind, value = declared
    return actual == value if kind == "fixed" else _contains(actual, value)


def _children(obj: dict[str, Any], name: str) -> list[Any]:
    """The values of element `name` (`value[x]` takes any `valueXxx`) in a JSON object, flattened."""
    if name.endswith("[x]"):
        stem = name[:-3]
        keys = [k for k in obj if k.startswith(stem) and k[len(stem):len(stem) + 1].isupper()]
    else:
        keys = [name] if name in obj else []
    values: list[Any] = []
    for key in keys:
        value = obj[key]
        values.extend(value if isinstance(value, list) else [value])
    return values


def _navigate(value: Any, path: str) -> list[Any]:
    found = [value]
    for name in path.split("."):
        found = [item for v in found if isinstance(v, dict) for item in _children(v, name)]
    return found


class Profile:
    """One StructureDefinition's snapshot, indexed by element id."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.url: str = definition["url"]
        self.version: str = definition["version"]
        self.type: str = definition["type"]
        self.elements: dict[str, dict[str, Any]] = {e["id"]: e for e in definition["element"]}
        self.root = definition["element"][0]["id"]
        self.children: dict[str, list[dict[str, Any]]] = {}
        self.slices: dict[str, list[dict[str, Any]]] = {}
        for element in definition["element"][1:]:
            parent, _, last = element["id"].rpartition(".")
            if ":" in last and "sliceName" in element:
                self.slices.setdefault(f"{parent}.{last.partition(':')[0]}", []).append(element)
            else:
                self.children.setdefault(parent, []).append(element)
        self.invariants: dict[str, list[Invariant]] = {
            e["id"]: [compile_invariant(c["key"], c["severity"], c["human"], e["path"], c["expression"])
                      for c in e["constraint"]] for e in definition["element"] if e.get("constraint")}


class Profiles:
    def __init__(self, member: Member | None = None) -> None:
        self.by_url = _profiles()
        self.member = member

    def knows(self, url: str) -> bool:
        return self.find(url) is not None

    def find(self, url: str) -> Profile | None:
        base, _, version = url.partition("|")
        found = self.by_url.get(base)
        return found if found is not None and version in ("", found.version) else None

    def validate(self, resource: dict[str, Any], url: str) -> list[ValidationIssue]:
        profile = self.find(url)
        if profile is None:
            return [ValidationIssue("warning", "not-supported", f"profile {url} is not known to this server",
                                    str(resource.get("resourceType", "Resource")))]
        if resource.get("resourceType") != profile.type:
            return [ValidationIssue("error", "invalid", f"{url} profiles {profile.type}, not "
                                    f"{resource.get('resourceType')}", "Resource")]
        issues: list[ValidationIssue] = []
        _Run(self, profile, resource, issues).object(resource, profile.root, profile.type)
        return issues


class _Run:
    def __init__(self, profiles: Profiles, profile: Profile, resource: dict[str, Any],
                 issues: list[ValidationIssue]) -> None:
        self.profiles, self.profile, self.resource, self.issues = profiles, profile, resource, issues

    def error(self, code: str, text: str, where: str, severity: str = "error") -> None:
        self.issues.append(ValidationIssue(severity, code, f"{text} ({self.profile.url})", where))  # type: ignore[arg-type]

    def object(self, obj: dict[str, Any], element_id: str, where: str) -> None:
        for invariant in self.profile.invariants.get(element_id, ()):
            try:
                holds = invariant.holds(obj, self.resource, self.resource)
            except Exception as exc:  # noqa: BLE001 - fhirpathpy raises bare Exceptions and KeyErrors
                self.error("not-supported", f"{invariant.key} could not be evaluated: {exc}", where, "warning")
                continue
            if not holds:
                self.error("invariant", f"{invariant.key}: {invariant.human}", where,
                           "error" if invariant.severity == "error" else "warning")
        for child in self.profile.children.get(element_id, ()):
            name = child["path"].rpartition(".")[2]
            values = _children(obj, name)
            path = f"{where}.{name.removesuffix('[x]')}"
            self.element(child, values, path, changed_cardinality(child))
            for slice_ in self.profile.slices.get(child["id"], ()):
                matched = [v for v in values if self.in_slice(child, slice_, v)]
                self.element(slice_, matched, f"{path}:{slice_['sliceName']}", True)

    def element(self, element: dict[str, Any], values: list[Any], where: str, cardinality: bool) -> None:
        if cardinality:
            maximum = _max(element["max"])
            if len(values) < element["min"]:
                self.error("required", f"at least {element['min']} required, found {len(values)}", where)
            elif maximum is not None and len(values) > maximum:
                self.error("structure", f"at most {maximum} allowed, found {len(values)}", where)
        declared = _declared_value(element)
        binding = element.get("binding", {})
        for index, value in enumerate(values):
            at = f"{where}[{index}]" if len(values) > 1 else where
            if declared is not None and not _matches(value, declared):
                self.error("value", f"must be {'exactly' if declared[0] == 'fixed' else 'like'} "
                           f"{declared[1]}", at)
            if binding.get("strength") == "required" and not binding.get("valueSet", "").startswith(CORE_VALUE_SETS):
                self.binding(binding["valueSet"], value, at)
            if isinstance(value, dict):
                for profile_url in element.get("typeProfile", ()):
                    other = self.profiles.find(profile_url)
                    if other is not None and other is not self.profile:
                        _Run(self.profiles, other, self.resource, self.issues).object(value, other.root, at)
                self.object(value, element["id"], at)

    def binding(self, value_set: str, value: Any, where: str) -> None:
        member = self.profiles.member
        if member is None:
            return
        for system, code in _codings(value):
            if member(value_set, system, code) is False:
                self.error("code-invalid", f"'{code}' is not in the required value set {value_set}", where)

    def in_slice(self, sliced: dict[str, Any], slice_: dict[str, Any], value: Any) -> bool:
        for discriminator in sliced.get("slicing", {}).get("discriminator", ()):
            path = discriminator["path"]
            if discriminator["type"] not in ("value", "pattern"):
                return False
            target = slice_ if path == "$this" else self.profile.elements.get(f"{slice_['id']}.{path}")
            declared = _declared_value(target) if target is not None else None
            if declared is None and path == "url" and slice_.get("typeProfile"):
                declared = ("fixed", slice_["typeProfile"][0])  # an extension slice: its profile's URL
            if declared is None:
                return False
            actual = [value] if path == "$this" else _navigate(value, path)
            if not any(_matches(a, declared) for a in actual):
                return False
        return True


def changed_cardinality(element: dict[str, Any]) -> bool:
    base = element.get("base", {})
    return (element["min"], element["max"]) != (base.get("min"), base.get("max"))


def _codings(value: Any) -> Iterator[tuple[str | None, str]]:
    if isinstance(value, str):
        yield None, value
    elif isinstance(value, dict):
        codings = value.get("coding", [value]) if "code" not in value else [value]
        for coding in codings:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                yield coding.get("system"), coding["code"]


@cache
def _profiles() -> dict[str, Profile]:
    raw = gzip.decompress(importlib_resources.files("conformance.data").joinpath(DATA).read_bytes())
    return {p["url"]: Profile(p) for p in json.loads(raw)["profiles"]}
