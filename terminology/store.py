"""The terminology store: every CodeSystem, ValueSet and ConceptMap the operations can use, in memory.

    store = TerminologyStore()                 # the vendored R4, LOINC, SNOMED CT and ICD-10 content
    store.add(code_system_resource)            # a user's CodeSystem / ValueSet / ConceptMap (dicts)
    store.code_system("http://loinc.org")      # -> CodeSystem | None
    store.value_set(url)                       # -> CompiledValueSet | None
    store.code_systems()                       # {url: [CodeSystem, ...]}, every version held
    store.codes_in(url)                        # {(system, code)} for the search modifiers :in / :not-in
    store.descendants(system, code)            # for :below; store.ancestors(system, code) for :above

Built once per process (by the composition root) and passed in; never a module-level singleton.
Reads take no lock: the registry is an immutable snapshot that a write replaces whole (copy on write,
under a lock), so a reader sees either the old content or the new, and the compiled value sets and
indexes cached in a snapshot are dropped with it. Several versions of one canonical URL can be held; a
look-up without a version gets the one added last.

Implicit value sets (https://hl7.org/fhir/R4/snomedct.html#implicit, loinc.html#implicit): a code
system's `valueSet` (all its codes), `http://snomed.info/sct?fhir_vs` and `?fhir_vs=isa/[sctid]`, and
`http://loinc.org/vs`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from resources.errors import BadRequest, NotFound
from terminology import content
from terminology.code_system import CodeSystem
from terminology.value_set import CompiledValueSet

__all__ = ["TerminologyStore", "DEFAULT_EXPANSION_LIMIT"]

DEFAULT_EXPANSION_LIMIT = 10_000
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
T = TypeVar("T")


@dataclass(frozen=True)
class _Snapshot:
    """The registry at one moment: url -> versions (the latest last)."""

    code_systems: dict[str, list[CodeSystem]] = field(default_factory=dict)
    value_sets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    concept_maps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    supplements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    implicit: dict[str, str] = field(default_factory=dict)  # CodeSystem.valueSet -> code system url
    memo: dict[Any, Any] = field(default_factory=dict)  # compiled value sets, indexes: dropped on write


def _put(versions: list[T], item: T, version: str | None, version_of: Callable[[T], str | None]) -> list[T]:
    return [v for v in versions if version_of(v) != version] + [item]


def _pick(versions: list[T] | None, version: str | None, version_of: Callable[[T], str | None]) -> T | None:
    if not versions:
        return None
    if version is None:
        return versions[-1]
    for item in reversed(versions):
        if version_of(item) == version:
            return item
    return None


def _split_canonical(url: str) -> tuple[str, str | None]:
    if "|" in url:
        base, _, version = url.partition("|")
        return base, version or None
    return url, None


class TerminologyStore:
    """CodeSystems, ValueSets and ConceptMaps by canonical URL; thread-safe reads, copy-on-write adds."""

    def __init__(self, resources: Iterable[dict[str, Any]] | None = None, *, bundled: bool = True,
                 expansion_limit: int = DEFAULT_EXPANSION_LIMIT) -> None:
        if expansion_limit < 1:
            raise ValueError("expansion_limit must be at least 1")
        self.expansion_limit = expansion_limit
        self._lock = threading.Lock()
        self._snapshot = _Snapshot()
        loaded = list(content.bundled()) if bundled else []
        loaded.extend(resources or ())
        self._snapshot = self._with(self._snapshot, loaded)

    # -- writes --------------------------------------------------------------------------------------

    def add(self, resource: dict[str, Any]) -> None:
        """Add (or replace, same url and version) a CodeSystem, ValueSet or ConceptMap resource."""
        self.add_all([resource])

    def add_all(self, resources: Iterable[dict[str, Any]]) -> None:
        batch = list(resources)
        for resource in batch:
            if resource.get("resourceType") == "CodeSystem":
                _check_concepts(resource.get("concept", []), resource.get("url"))
        with self._lock:
            self._snapshot = self._with(self._snapshot, batch)

    def remove(self, resource_type: str, url: str, version: str | None = None) -> bool:
        """Drop one version (or every version) of a resource; whether anything was removed."""
        with self._lock:
            snap = self._snapshot
            if resource_type == "CodeSystem":
                systems = _without(snap.code_systems, url, version)
                if systems is None:
                    return False
                implicit = {k: v for k, v in snap.implicit.items() if v != url or url in systems}
                self._snapshot = replace(snap, code_systems=systems, implicit=implicit, memo={})
            elif resource_type == "ValueSet":
                value_sets = _without(snap.value_sets, url, version)
                if value_sets is None:
                    return False
                self._snapshot = replace(snap, value_sets=value_sets, memo={})
            elif resource_type == "ConceptMap":
                maps = _without(snap.concept_maps, url, version)
                if maps is None:
                    return False
                self._snapshot = replace(snap, concept_maps=maps, memo={})
            else:
                return False
            return True

    def _with(self, snap: _Snapshot, resources: list[dict[str, Any]]) -> _Snapshot:
        code_systems = {**snap.code_systems}
        value_sets = {**snap.value_sets}
        concept_maps = {**snap.concept_maps}
        supplements = {**snap.supplements}
        implicit = {**snap.implicit}
        touched: set[str] = set()
        for resource in resources:
            kind = resource.get("resourceType")
            url = resource.get("url")
            if kind not in ("CodeSystem", "ValueSet", "ConceptMap"):
                raise BadRequest(f"The terminology store takes CodeSystem, ValueSet and ConceptMap, not {kind}")
            if not isinstance(url, str) or not url:
                raise BadRequest(f"A {kind} needs a canonical url to take part in terminology operations")
            version = resource.get("version")
            if kind == "ValueSet":
                value_sets[url] = _put(value_sets.get(url, []), resource, version, _version)
            elif kind == "ConceptMap":
                concept_maps[url] = _put(concept_maps.get(url, []), resource, version, _version)
            elif resource.get("content") == "supplement" and resource.get("supplements"):
                base = _split_canonical(resource["supplements"])[0]
                supplements[base] = _put(supplements.get(base, []), resource, version, _version)
                touched.add(base)
            else:
                compiled = CodeSystem(resource, supplements.get(url, []))
                code_systems[url] = _put(code_systems.get(url, []), compiled, version, lambda c: c.version)
                if compiled.value_set:
                    implicit[compiled.value_set] = url
        for base in touched:  # rebuild the code systems whose supplements changed
            if base in code_systems:
                code_systems[base] = [CodeSystem({**cs.resource, "concept": cs._source}, supplements[base])
                                      for cs in code_systems[base]]
        return _Snapshot(code_systems, value_sets, concept_maps, supplements, implicit, {})

    # -- reads ---------------------------------------------------------------------------------------

    def code_system(self, url: str, version: str | None = None) -> CodeSystem | None:
        base, pinned = _split_canonical(url)
        return _pick(self._snapshot.code_systems.get(base), version or pinned, lambda c: c.version)

    def require_code_system(self, url: str, version: str | None = None) -> CodeSystem:
        found = self.code_system(url, version)
        if found is None:
            raise self.unknown_system(url, version)
        return found

    def unknown_system(self, url: str, version: str | None = None) -> NotFound:
        if version is not None and self.code_system(url) is not None:
            return NotFound(f"CodeSystem '{url}' version '{version}' is not known to this server")
        return NotFound(f"CodeSystem '{url}' is not known to this server")

    def value_set_resource(self, url: str, version: str | None = None) -> dict[str, Any] | None:
        """The ValueSet resource for `url` (an explicit one, or an implicit value set built on demand)."""
        base, pinned = _split_canonical(url)
        snap = self._snapshot
        found = _pick(snap.value_sets.get(base), version or pinned, _version)
        if found is not None:
            return found
        return self._implicit_value_set(base, snap)

    def value_set(self, url: str, version: str | None = None) -> CompiledValueSet | None:
        resource = self.value_set_resource(url, version)
        if resource is None:
            return None
        key = ("value-set", resource.get("url"), resource.get("version"))
        return self.memo(key, lambda: CompiledValueSet(self, resource))

    def require_value_set(self, url: str, version: str | None = None) -> CompiledValueSet:
        found = self.value_set(url, version)
        if found is None:
            suffix = f" version '{version}'" if version else ""
            raise NotFound(f"ValueSet '{url}'{suffix} is not known to this server")
        return found

    def compile_value_set(self, resource: dict[str, Any]) -> CompiledValueSet:
        """Compile a ValueSet given whole (e.g. the `valueSet` parameter of `$expand`); not stored."""
        if resource.get("resourceType") != "ValueSet":
            raise BadRequest("The valueSet parameter must be a ValueSet resource")
        return CompiledValueSet(self, resource)

    def compile_value_set_url(self, url: str, chain: tuple[str, ...]) -> CompiledValueSet:
        """An imported value set (compose.include.valueSet), refusing circular imports."""
        base, version = _split_canonical(url)
        if base in chain:
            raise BadRequest(f"ValueSet '{base}' imports itself (through {' -> '.join(chain)})")
        resource = self.value_set_resource(base, version)
        if resource is None:
            raise NotFound(f"ValueSet '{url}' (imported by '{chain[-1] if chain else ''}') is not known to "
                           "this server")
        # a value set that compiled once has no cycle below it, so one compiled copy serves every importer
        key = ("value-set", resource.get("url"), resource.get("version"))
        return self.memo(key, lambda: CompiledValueSet(self, resource, chain))

    def code_systems(self) -> dict[str, list[CodeSystem]]:
        """Every version of every code system by canonical URL, the latest (the default) last."""
        return {url: list(versions) for url, versions in self._snapshot.code_systems.items()}

    def concept_map(self, url: str, version: str | None = None) -> dict[str, Any] | None:
        base, pinned = _split_canonical(url)
        return _pick(self._snapshot.concept_maps.get(base), version or pinned, _version)

    def concept_maps(self) -> list[dict[str, Any]]:
        """The latest version of every ConceptMap."""
        return [versions[-1] for versions in self._snapshot.concept_maps.values()]

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """A value cached for the current content (dropped at the next write)."""
        cache = self._snapshot.memo
        found = cache.get(key)
        if found is None:
            found = build()
            cache[key] = found
        return found  # type: ignore[no-any-return]

    # -- helpers for search (:in, :not-in, :above, :below) -------------------------------------------

    def codes_in(self, value_set_url: str) -> frozenset[tuple[str, str]]:
        """The (system, code) pairs of a value set's expansion; NotFound / too-costly past the limit."""
        compiled = self.require_value_set(value_set_url)
        return self.memo(("codes-in", compiled.url, compiled.version),
                         lambda: frozenset((m.system, m.code) for m in compiled.expansion(self.expansion_limit)))

    def descendants(self, system: str, code: str) -> frozenset[str]:
        """The codes `code` subsumes in `system`, transitively (not itself); empty for an unknown code."""
        cs = self.require_code_system(system)
        concept = cs.get(code)
        return cs.descendants(concept.code) if concept is not None else frozenset()

    def ancestors(self, system: str, code: str) -> frozenset[str]:
        """The codes that subsume `code` in `system`, transitively (not itself)."""
        cs = self.require_code_system(system)
        concept = cs.get(code)
        return cs.ancestors(concept.code) if concept is not None else frozenset()

    # -- implicit value sets -------------------------------------------------------------------------

    def _implicit_value_set(self, url: str, snap: _Snapshot) -> dict[str, Any] | None:
        include: dict[str, Any] | None = None
        if url in snap.implicit:
            include = {"system": snap.implicit[url]}
        elif url == LOINC + "/vs":
            include = {"system": LOINC}
        elif url.startswith(SNOMED) and "?fhir_vs" in url:
            query = url.partition("?fhir_vs")[2]
            if query == "":
                include = {"system": SNOMED}
            elif query.startswith("=isa/"):
                include = {"system": SNOMED, "filter": [{"property": "concept", "op": "is-a",
                                                         "value": query[len("=isa/"):]}]}
        if include is None:
            return None
        return {"resourceType": "ValueSet", "url": url, "status": "active", "compose": {"include": [include]}}


def _check_concepts(concepts: Any, url: Any) -> None:
    """Refuse a CodeSystem whose concepts lack codes before it is compiled (lazily, much later)."""
    stack = [concepts]
    while stack:
        nodes = stack.pop()
        if not isinstance(nodes, list):
            raise BadRequest(f"CodeSystem '{url}': concept must be a list")
        for node in nodes:
            if not isinstance(node, dict) or not isinstance(node.get("code"), str) or not node["code"]:
                raise BadRequest(f"CodeSystem '{url}': every concept needs a code")
            stack.append(node.get("concept", []))


def _without(table: dict[str, list[T]], url: str, version: str | None) -> dict[str, list[T]] | None:
    """The table without that url (one version, or all); None when nothing matched."""
    versions = table.get(url)
    if not versions:
        return None
    kept = [v for v in versions if version is not None and _version_of(v) != version]  # type: ignore[arg-type]
    if len(kept) == len(versions):
        return None
    updated = {**table}
    if kept:
        updated[url] = kept
    else:
        del updated[url]
    return updated


def _version(resource: dict[str, Any]) -> str | None:
    return resource.get("version")


def _version_of(item: CodeSystem | dict[str, Any]) -> str | None:
    return item.version if isinstance(item, CodeSystem) else item.get("version")
