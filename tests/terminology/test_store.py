"""The store: user resources taking part, versions, supplements, implicit value sets, search helpers, threads."""

from __future__ import annotations

import threading

import pytest

from fhir_server.errors import BadRequest, NotFound, Unprocessable
from terminology import (
    TerminologyStore,
    code_system_validate_code,
    expand,
    lookup,
    subsumes,
    value_set_validate_code,
)
from tests.terminology.conftest import ACT_CODE, GENDER, GENDER_VS, LOINC, SNOMED, params

EX = "http://example.org/fhir"
WARDS = {
    "resourceType": "CodeSystem", "url": f"{EX}/CodeSystem/wards", "version": "1", "status": "active",
    "content": "complete", "hierarchyMeaning": "is-a", "valueSet": f"{EX}/ValueSet/wards",
    "property": [{"code": "beds", "type": "integer"}],
    "concept": [
        {"code": "MED", "display": "Medicine", "concept": [
            {"code": "RENAL", "display": "Renal ward", "property": [{"code": "beds", "valueInteger": 24}]},
            {"code": "DIAB", "display": "Diabetes unit"},
        ]},
        {"code": "ICU", "display": "Intensive care", "property": [{"code": "beds", "valueInteger": 12}]},
    ],
}


def test_user_code_system_takes_part_in_every_operation(fresh_store: TerminologyStore) -> None:
    fresh_store.add(WARDS)
    system = WARDS["url"]
    assert params(lookup(fresh_store, system=system, code="RENAL"))["display"] == "Renal ward"
    assert params(code_system_validate_code(fresh_store, url=system, code="ICU"))["result"] is True
    assert params(subsumes(fresh_store, system=system, code_a="MED", code_b="DIAB"))["outcome"] == "subsumes"
    implicit = expand(fresh_store, url=f"{EX}/ValueSet/wards")  # the CodeSystem's valueSet, all codes
    assert [c["code"] for c in implicit["expansion"]["contains"]] == ["MED", "RENAL", "DIAB", "ICU"]
    fresh_store.add({"resourceType": "ValueSet", "url": f"{EX}/ValueSet/big-wards", "status": "active",
                     "compose": {"include": [{"system": system, "filter": [{"property": "beds", "op": "=", "value": "24"}]}]}})
    assert params(value_set_validate_code(fresh_store, url=f"{EX}/ValueSet/big-wards", system=system,
                                          code="RENAL"))["result"] is True
    assert fresh_store.descendants(system, "MED") == {"RENAL", "DIAB"}


def test_versions_replace_and_remove(fresh_store: TerminologyStore) -> None:
    fresh_store.add(WARDS)
    fresh_store.add({**WARDS, "version": "2", "concept": [{"code": "ED", "display": "Emergency"}]})
    assert fresh_store.require_code_system(WARDS["url"]).version == "2"
    assert fresh_store.require_code_system(WARDS["url"], "1").get("ICU") is not None
    assert fresh_store.code_system(WARDS["url"] + "|1") is not None
    with pytest.raises(NotFound):
        lookup(fresh_store, system=WARDS["url"], code="ED", version="3")
    assert fresh_store.remove("CodeSystem", WARDS["url"], "2")
    assert fresh_store.require_code_system(WARDS["url"]).version == "1"
    assert fresh_store.remove("CodeSystem", WARDS["url"])
    assert fresh_store.code_system(WARDS["url"]) is None
    assert not fresh_store.remove("CodeSystem", WARDS["url"])


def test_changes_drop_cached_expansions(fresh_store: TerminologyStore) -> None:
    fresh_store.add(WARDS)
    url = f"{EX}/ValueSet/wards"
    assert expand(fresh_store, url=url)["expansion"]["total"] == 4
    fresh_store.add({**WARDS, "concept": WARDS["concept"] + [{"code": "ED", "display": "Emergency"}]})
    assert expand(fresh_store, url=url)["expansion"]["total"] == 5


def test_supplement_adds_designations(fresh_store: TerminologyStore) -> None:
    fresh_store.add(WARDS)
    fresh_store.add({"resourceType": "CodeSystem", "url": f"{EX}/CodeSystem/wards-fr", "status": "active",
                     "content": "supplement", "supplements": WARDS["url"],
                     "concept": [{"code": "ICU", "designation": [{"language": "fr", "value": "Soins intensifs"}]}]})
    out = lookup(fresh_store, system=WARDS["url"], code="ICU", display_language="fr")
    assert params(out)["display"] == "Soins intensifs"


def test_bad_resources_are_refused(fresh_store: TerminologyStore) -> None:
    with pytest.raises(BadRequest):
        fresh_store.add({"resourceType": "Patient", "url": "x"})
    with pytest.raises(BadRequest, match="canonical url"):
        fresh_store.add({"resourceType": "ValueSet", "status": "active"})
    with pytest.raises(BadRequest, match="needs a code"):
        fresh_store.add({**WARDS, "concept": [{"code": "A", "concept": [{"display": "no code"}]}]})
    assert fresh_store.code_system(WARDS["url"]) is None  # nothing of a refused batch is kept


def test_search_helpers(store: TerminologyStore) -> None:
    assert store.codes_in(GENDER_VS) == {(GENDER, c) for c in ("male", "female", "other", "unknown")}
    assert {"431855005", "433144002", "700378005", "46177005"} <= store.descendants(SNOMED, "709044004")
    assert store.ancestors(SNOMED, "700378005") == {"433144002", "709044004", "90708001"}
    assert store.ancestors(ACT_CODE, "AE") == {"CC", "_ActAccountCode"}
    assert store.descendants(SNOMED, "999999999") == frozenset()
    with pytest.raises(NotFound):
        store.codes_in("http://example.org/none")
    with pytest.raises(NotFound):
        store.descendants("http://example.org/none", "x")


def test_codes_in_is_bounded() -> None:
    small = TerminologyStore(expansion_limit=50)
    with pytest.raises(Unprocessable):
        small.codes_in("http://loinc.org/vs")
    with pytest.raises(ValueError):
        TerminologyStore(bundled=False, expansion_limit=0)


def test_empty_store_with_own_resources() -> None:
    store = TerminologyStore([WARDS], bundled=False)
    assert store.code_system(LOINC) is None and store.require_code_system(WARDS["url"]).get("MED") is not None


def test_reads_while_another_thread_writes(fresh_store: TerminologyStore) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                assert params(value_set_validate_code(fresh_store, url=GENDER_VS, system=GENDER, code="male"))["result"]
                assert expand(fresh_store, url=GENDER_VS)["expansion"]["total"] == 4
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    for n in range(30):
        fresh_store.add({**WARDS, "version": str(n)})
    stop.set()
    for thread in readers:
        thread.join()
    assert not errors
    assert fresh_store.require_code_system(WARDS["url"]).version == "29"
