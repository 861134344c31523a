"""$validate-code on a ValueSet or a CodeSystem (https://hl7.org/fhir/R4/valueset-operation-validate-code.html,
https://hl7.org/fhir/R4/codesystem-operation-validate-code.html).

    value_set_validate_code(store, url=VS, system=S, code=C, display=D)   -> Parameters(result, message, display)
    code_system_validate_code(store, url=S, code=C)

A code is valid when the value set (or code system) contains it, it is not abstract unless
`abstract=true`, and any `display` given is one of the concept's displays or designations (compared
without regard to case or repeated spaces). For a codeableConcept, one valid coding makes the whole valid.
An unknown value set or code system is NotFound; a coding whose system is unknown is NotFound when it is
the only coding asked about, and an invalid coding (with a message) inside a codeableConcept.
"""

from __future__ import annotations

from typing import Any

from resources.errors import BadRequest, NotFound
from terminology.code_system import CodeSystem, Concept
from terminology.coding import Coded, coded_values
from terminology.operation_definition import narrowed
from terminology.parameters import Output
from terminology.store import TerminologyStore
from terminology.value_set import CompiledValueSet, Member

__all__ = ["value_set_validate_code", "code_system_validate_code", "operation_definitions"]

VALUE_SET_INPUTS = ("url", "valueSet", "valueSetVersion", "code", "system", "systemVersion", "display",
                    "coding", "codeableConcept", "date", "abstract", "displayLanguage")
CODE_SYSTEM_INPUTS = ("url", "codeSystem", "code", "version", "display", "coding", "codeableConcept", "date",
                      "abstract", "displayLanguage")


class _Verdict:
    """The answer for one coding: valid or not, why, and the display to recommend."""

    __slots__ = ("valid", "message", "display")

    def __init__(self, valid: bool, message: str | None = None, display: str | None = None) -> None:
        self.valid = valid
        self.message = message
        self.display = display


def value_set_validate_code(
    store: TerminologyStore, *, url: str | None = None, value_set: dict[str, Any] | None = None,
    value_set_version: str | None = None, code: str | None = None, system: str | None = None,
    system_version: str | None = None, display: str | None = None, coding: dict[str, Any] | None = None,
    codeable_concept: dict[str, Any] | None = None, date: str | None = None, abstract: bool | None = None,
    display_language: str | None = None,
) -> dict[str, Any]:
    """ValueSet/$validate-code: is the code in the value set (`url`, or the `value_set` resource)?"""
    if (url is None) == (value_set is None):
        raise BadRequest("ValueSet/$validate-code needs one of url and valueSet")
    compiled = (store.require_value_set(url, value_set_version) if url is not None
                else store.compile_value_set(value_set or {}))
    codings = coded_values(operation="validate-code", code=code, system=system, version=system_version,
                           display=display, coding=coding, codeable_concept=codeable_concept)
    single = len(codings) == 1 and codeable_concept is None
    verdicts = [_in_value_set(store, compiled, c, abstract, display_language, strict=single) for c in codings]
    return _result(verdicts)


def code_system_validate_code(
    store: TerminologyStore, *, url: str | None = None, code_system: dict[str, Any] | None = None,
    code: str | None = None, version: str | None = None, display: str | None = None,
    coding: dict[str, Any] | None = None, codeable_concept: dict[str, Any] | None = None,
    date: str | None = None, abstract: bool | None = None, display_language: str | None = None,
) -> dict[str, Any]:
    """CodeSystem/$validate-code: is the code defined by the code system (`url`, or `code_system`)?"""
    if url is not None and code_system is not None:
        raise BadRequest("CodeSystem/$validate-code takes one of url and codeSystem, not both")
    if code_system is not None:
        cs = CodeSystem(code_system) if code_system.get("url") else CodeSystem({**code_system, "url": ""})
    else:
        target = url or (coding or {}).get("system")
        if target is None:
            raise BadRequest("CodeSystem/$validate-code needs the url of the code system")
        cs = store.require_code_system(target, version)
    codings = coded_values(operation="validate-code", code=code, system=cs.url, version=version, display=display,
                           coding=coding, codeable_concept=codeable_concept)
    verdicts = []
    for coded in codings:
        if coded.system not in (None, cs.url):
            verdicts.append(_Verdict(False, f"The coding {coded.label()} is not from CodeSystem '{cs.url}'"))
            continue
        verdicts.append(_check(cs.get(coded.code), coded, cs, None, abstract, display_language,
                               f"CodeSystem '{cs.url}'"))
    return _result(verdicts)


def _in_value_set(store: TerminologyStore, vs: CompiledValueSet, coded: Coded, abstract: bool | None,
                  language: str | None, *, strict: bool) -> _Verdict:
    system = coded.system or ""
    cs = store.code_system(system, coded.version) if system else None
    if cs is None and system:
        try:
            member = vs.member(system, coded.code)
        except NotFound:
            member = None
        if member is None:
            if strict:
                raise store.unknown_system(system, coded.version)
            return _Verdict(False, f"CodeSystem '{system}' is not known to this server, and value set "
                                   f"'{vs.url}' does not list the code {coded.label()}")
        return _check(None, coded, None, member, abstract, language, f"value set '{vs.url}'")
    member = vs.member(system, coded.code)
    concept = cs.get(coded.code) if cs is not None else None
    if member is None:
        if cs is not None and concept is None:
            return _Verdict(False, f"Unknown code '{coded.code}' in CodeSystem '{system}'" + cs.coverage_note())
        return _Verdict(False, f"The code {coded.label()} is not in the value set '{vs.url}'",
                        concept.display_in(language) if concept else None)
    return _check(concept, coded, cs, member, abstract, language, f"value set '{vs.url}'")


def _check(concept: Concept | None, coded: Coded, cs: CodeSystem | None, member: Member | None,
           abstract: bool | None, language: str | None, where: str) -> _Verdict:
    if concept is None and member is None:
        note = cs.coverage_note() if cs is not None else ""
        return _Verdict(False, f"Unknown code '{coded.code}' in {where}{note}")
    display = (concept.display_in(language) if concept is not None else None) or (member.display if member else None)
    is_abstract = concept.abstract if concept is not None else bool(member and member.abstract)
    if is_abstract and abstract is not True:
        return _Verdict(False, f"The code {coded.label()} is abstract (not for use in data); pass "
                               "abstract=true where a grouping code is acceptable", display)
    if coded.display is not None and not _display_matches(coded.display, concept, member):
        return _Verdict(False, f"The display '{coded.display}' is not a display of {coded.label()}; "
                               f"it should be '{display}'", display)
    inactive = concept.inactive if concept is not None else bool(member and member.inactive)
    return _Verdict(True, f"The code {coded.label()} is inactive" if inactive else None, display)


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _display_matches(given: str, concept: Concept | None, member: Member | None) -> bool:
    wanted = _normal(given)
    candidates: list[str] = []
    if concept is not None:
        candidates += [concept.display or ""] + [str(d.get("value", "")) for d in concept.designations]
    if member is not None:
        candidates += [member.display or ""] + [str(d.get("value", "")) for d in member.designations]
    return any(_normal(c) == wanted for c in candidates if c)


def _result(verdicts: list[_Verdict]) -> dict[str, Any]:
    valid = [v for v in verdicts if v.valid]
    chosen = valid[0] if valid else verdicts[0]
    out = Output().add("result", "valueBoolean", bool(valid))
    messages = [v.message for v in (valid if valid else verdicts) if v.message]
    if messages:
        out.add("message", "valueString", "; ".join(messages))
    display = chosen.display or next((v.display for v in verdicts if v.display), None)
    if display:
        out.add("display", "valueString", display)
    return out.resource()


def operation_definitions(base_url: str | None = None) -> list[dict[str, Any]]:
    """The OperationDefinitions of ValueSet/$validate-code and CodeSystem/$validate-code."""
    return [
        narrowed("ValueSet-validate-code", inputs=VALUE_SET_INPUTS, base_url=base_url,
                 comment="`date` is accepted and ignored. Abstract codes are invalid unless abstract=true."),
        narrowed("CodeSystem-validate-code", inputs=CODE_SYSTEM_INPUTS, base_url=base_url,
                 comment="`date` is accepted and ignored. Abstract codes are invalid unless abstract=true."),
    ]
