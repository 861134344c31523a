"""A ValueSet's `compose` compiled into rules: membership of one code, and the full expansion.

    vs = store.value_set("http://hl7.org/fhir/ValueSet/administrative-gender")
    vs.member("http://hl7.org/fhir/administrative-gender", "male")   # Member | None, without expanding
    vs.expansion(limit=10_000)                                       # [Member, ...] in compose order

Membership follows https://hl7.org/fhir/R4/valueset.html#compositions: a code is in the value set when
some `include` selects it and no `exclude` does; an include selects a code when its system matches and
its concept list (or every filter) admits it and every imported value set contains it. Codes from a code
system the server does not know can still be members when the compose lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from resources.errors import BadRequest, NotFound, Unprocessable
from terminology.code_system import CodeSystem, Concept
from terminology.filters import ConceptFilter

if TYPE_CHECKING:
    from terminology.store import TerminologyStore

__all__ = ["Member", "CompiledValueSet", "too_costly"]

Key = tuple[str, str]


@dataclass(slots=True)
class Member:
    """One code of a value set: what `$expand` lists and `$validate-code` answers with."""

    system: str
    code: str
    display: str | None = None
    version: str | None = None
    concept: Concept | None = None
    abstract: bool = False
    inactive: bool = False
    designations: list[dict[str, Any]] = field(default_factory=list)


def too_costly(url: str, limit: int) -> Unprocessable:
    return Unprocessable(
        f"The expansion of value set '{url}' has more than {limit} codes, the limit of this server; "
        "use a narrower value set, a filter, or count/offset paging", code="too-costly")


class _Part:
    """One include or exclude of a compose."""

    def __init__(self, store: TerminologyStore, part: dict[str, Any], chain: tuple[str, ...]) -> None:
        self.store = store
        self.system: str | None = part.get("system")
        self.version: str | None = part.get("version")
        self.listed: dict[str, dict[str, Any]] | None = None
        if "concept" in part:
            if not all(isinstance(c, dict) and isinstance(c.get("code"), str) for c in part["concept"]):
                raise BadRequest("Each concept of a value set include/exclude needs a code")
            self.listed = {c["code"]: c for c in part["concept"]}
        self.filter_specs: list[dict[str, Any]] = list(part.get("filter", []))
        for spec in self.filter_specs:
            if not all(isinstance(spec.get(k), str) for k in ("property", "op", "value")):
                raise BadRequest(f"A value set filter needs a property, an op and a value, not {spec}")
        self.imports = [store.compile_value_set_url(url, chain) for url in part.get("valueSet", [])]
        if self.system is None and not self.imports:
            raise BadRequest("A value set include/exclude needs a system or a valueSet")
        self._filters: list[ConceptFilter] | None = None

    def code_system(self, *, required: bool) -> CodeSystem | None:
        if self.system is None:
            return None
        cs = self.store.code_system(self.system, self.version)
        if cs is None and required:
            raise self.store.unknown_system(self.system, self.version)
        if cs is not None and required and cs.content == "not-present":
            raise NotFound(f"The CodeSystem '{self.system}' is known by name only: this server holds none of "
                           "its concepts", code="not-found")
        return cs

    def filters(self, cs: CodeSystem) -> list[ConceptFilter]:
        if self._filters is None:
            self._filters = [ConceptFilter(cs, f["property"], f["op"], f["value"]) for f in self.filter_specs]
        return self._filters

    # -- one code ------------------------------------------------------------------------------------

    def member(self, system: str, code: str) -> Member | None:
        found: Member | None = None
        if self.system is not None:
            if system != self.system:
                return None
            cs = self.code_system(required=self.listed is None)
            concept = cs.get(code) if cs is not None else None
            if self.listed is not None:
                entry = self.listed.get(concept.code if concept is not None else code)
                if entry is None:
                    return None
                found = _member(self.system, cs, concept, entry)
            else:
                if concept is None or cs is None:
                    return None
                if not all(f.matches(concept) for f in self.filters(cs)):
                    return None
                found = _member(self.system, cs, concept, None)
        for imported in self.imports:
            inner = imported.member(system, code)
            if inner is None:
                return None
            found = found or inner
        return found

    # -- all codes -----------------------------------------------------------------------------------

    def members(self, limit: int, url: str) -> Iterable[Member]:
        if self.system is None:
            first, *others = self.imports
            for candidate in first.expansion(limit):
                if all(o.member(candidate.system, candidate.code) is not None for o in others):
                    yield candidate
            return
        cs = self.code_system(required=self.listed is None)
        for member in self._own_members(cs, limit, url):
            if all(i.member(member.system, member.code) is not None for i in self.imports):
                yield member

    def _own_members(self, cs: CodeSystem | None, limit: int, url: str) -> Iterable[Member]:
        system = self.system or ""
        if self.listed is not None:
            for code, entry in self.listed.items():
                concept = cs.get(code) if cs is not None else None
                yield _member(system, cs, concept, entry)
            return
        if cs is None:
            return
        filters = self.filters(cs)
        narrowed = [chosen for f in filters if (chosen := f.candidates()) is not None]
        if narrowed:
            smallest = min(narrowed, key=len)
            pool: Iterable[Concept] = (cs.concepts[c] for c in sorted(smallest) if c in cs.concepts)
        else:
            if len(cs) > limit and not filters:
                raise too_costly(url, limit)
            pool = cs
        for concept in pool:
            if all(f.matches(concept) for f in filters):
                yield _member(system, cs, concept, None)


def _member(system: str, cs: CodeSystem | None, concept: Concept | None, entry: dict[str, Any] | None) -> Member:
    display = entry.get("display") if entry else None
    designations = list(entry.get("designation", [])) if entry else []
    if concept is not None:
        display = display or concept.display
        designations = designations + concept.designations
        return Member(system, concept.code, display, cs.version if cs else None, concept, concept.abstract,
                      concept.inactive, designations)
    code = entry["code"] if entry else ""
    return Member(system, code, display, cs.version if cs else None, None, False, False, designations)


class CompiledValueSet:
    """A ValueSet whose compose is compiled: `member(system, code)` and `expansion(limit)`."""

    def __init__(self, store: TerminologyStore, resource: dict[str, Any], chain: tuple[str, ...] = ()) -> None:
        self.resource = resource
        self.url: str = resource.get("url", "")
        self.version: str | None = resource.get("version")
        compose = resource.get("compose")
        if compose is None:
            raise Unprocessable(f"ValueSet '{self.url}' has no compose: this server cannot expand it")
        inner = chain + (self.url,)
        self.includes = [_Part(store, part, inner) for part in compose.get("include", [])]
        self.excludes = [_Part(store, part, inner) for part in compose.get("exclude", [])]
        self.include_inactive: bool = compose.get("inactive", True) is not False
        self._expansion: list[Member] | None = None

    def __repr__(self) -> str:
        return f"CompiledValueSet({self.url!r}, version={self.version!r})"

    def member(self, system: str, code: str) -> Member | None:
        """The member for (system, code), or None when the value set does not contain it."""
        found: Member | None = None
        for part in self.includes:
            found = part.member(system, code)
            if found is not None:
                break
        if found is None or (found.inactive and not self.include_inactive):
            return None
        if any(part.member(system, code) is not None for part in self.excludes):
            return None
        return found

    def expansion(self, limit: int) -> list[Member]:
        """Every member, in compose order, without duplicates; too-costly past `limit` codes."""
        cached = self._expansion
        if cached is not None:
            if len(cached) > limit:
                raise too_costly(self.url, limit)
            return cached
        members: dict[Key, Member] = {}
        for part in self.includes:
            for member in part.members(limit, self.url):
                if member.inactive and not self.include_inactive:
                    continue
                members.setdefault((member.system, member.code), member)
                if len(members) > limit:
                    raise too_costly(self.url, limit)
        if self.excludes and members:
            for key in [k for k in members if any(p.member(*k) is not None for p in self.excludes)]:
                del members[key]
        result = list(members.values())
        self._expansion = result
        return result

    def partial_systems(self) -> list[str]:
        """The code systems this value set selects from by filter or as a whole while the server holds only
        part of them (a fragment): its expansion lists only the codes held."""
        partial = set()
        for part in self.includes:
            if part.system is not None and part.listed is None:
                cs = part.code_system(required=False)
                if cs is not None and not cs.complete:
                    partial.add(cs.url)
        return sorted(partial)
