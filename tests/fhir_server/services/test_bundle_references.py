"""Rewriting a transaction's URLs inside resources and conditional URLs."""

from __future__ import annotations

from fhir_server.services.bundle_references import Identities, is_conditional_reference

URN = "urn:uuid:5a8e1c3e-0f3b-4b0e-8d8f-1f0c2b3a4d5e"


def identities() -> Identities:
    found = Identities()
    found.bind(URN, "Patient", "p1")
    found.bind("http://test/fhir/Patient/old", "Patient", "p2", base_url="http://test/fhir")
    return found


def test_references_uris_and_narrative_are_rewritten_and_the_rest_is_shared():
    untouched = {"system": "http://loinc.org", "code": "1"}
    resource = {
        "resourceType": "Observation", "code": {"coding": [untouched]},
        "subject": {"reference": URN}, "focus": [{"reference": "Patient/old"}, {"reference": "Patient/x"}],
        "extension": [{"url": "http://example.org/x", "valueUri": "http://test/fhir/Patient/old"}],
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": URN}],
        "text": {"status": "generated", "div": f'<div><a href="{URN}">p</a><img src = "{URN}"/></div>'},
        "contained": [{"resourceType": "Provenance", "target": [{"reference": URN}]}],
    }
    rewritten = identities().rewrite(resource)
    assert rewritten["subject"] == {"reference": "Patient/p1"}
    assert rewritten["focus"] == [{"reference": "Patient/p2"}, {"reference": "Patient/x"}]
    assert rewritten["extension"][0]["valueUri"] == "Patient/p2"
    assert rewritten["identifier"][0]["value"] == "Patient/p1"
    assert rewritten["text"]["div"] == '<div><a href="Patient/p1">p</a><img src = "Patient/p1"/></div>'
    assert rewritten["contained"][0]["target"][0]["reference"] == "Patient/p1"
    assert rewritten["code"] is resource["code"]  # copy on write
    assert resource["subject"] == {"reference": URN}  # the original is left as it was


def test_nothing_to_rewrite_returns_the_same_object():
    resource = {"resourceType": "Patient", "name": [{"family": "X"}]}
    assert identities().rewrite(resource) is resource


def test_criteria_and_conditional_references():
    found = identities()
    assert found.criteria((("subject", URN), ("code", "a,b"))) == (("subject", "Patient/p1"), ("code", "a,b"))
    assert found.criteria((("subject", f"Patient/x,{URN}"),)) == (("subject", "Patient/x,Patient/p1"),)
    assert is_conditional_reference("Patient?identifier=http://x|1")
    assert not is_conditional_reference("Patient/1") and not is_conditional_reference("http://x/Patient?a=1")
    resource = {"a": {"reference": "Patient?identifier=1"}, "b": [{"reference": "Patient/2"}], "reference": 3}
    unknown: list[str] = []
    assert Identities().rewrite(resource, unknown) is resource  # every reference found, none replaced
    assert sorted(unknown) == ["Patient/2", "Patient?identifier=1"]
