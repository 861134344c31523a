"""Bad Bundles: the right 4xx with an OperationOutcome naming the entry, and nothing written."""

from __future__ import annotations

import pytest

from tests.fhir_server.api.samples import observation, patient

FHIR_JSON = {"content-type": "application/fhir+json"}


def transaction(*entries):
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def create(resource):
    return {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


async def versions(client):
    history = await client.get("/fhir/_history", params={"_count": "1000"})
    return len(history.json().get("entry", []))


async def refused(client, body, status):
    response = await client.post("/fhir", json=body, headers=FHIR_JSON)
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["diagnostics"]
    return outcome


async def test_an_invalid_entry_rolls_back_everything_and_is_named(client):
    body = transaction(create(patient()), create(patient()), create(observation()),
                       create(patient(name=[{"family": 42}])), create(patient()))
    outcome = await refused(client, body, 400)
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[3].resource.name[0].family"]
    assert outcome["issue"][0]["diagnostics"].startswith("Bundle.entry[3]")
    assert await versions(client) == 0


async def test_every_invalid_entry_is_reported(client):
    body = transaction(create(patient(gender="nope")), create(patient()), create(observation(status="guess")))
    outcome = await refused(client, body, 422)
    expressions = [issue["expression"][0] for issue in outcome["issue"]]
    assert "Bundle.entry[0].resource.gender" in expressions
    assert "Bundle.entry[2].resource.status" in expressions
    assert await versions(client) == 0


@pytest.mark.parametrize("kind", ["collection", "searchset", "document", "history", "message", None, 7])
async def test_a_bundle_of_the_wrong_type_is_400(client, kind):
    body = {"resourceType": "Bundle", "entry": [create(patient())]}
    if kind is not None:
        body["type"] = kind
    outcome = await refused(client, body, 400)
    assert "batch" in outcome["issue"][0]["diagnostics"]
    assert await versions(client) == 0


async def test_not_a_bundle_and_malformed_json(client):
    await refused(client, patient(), 400)
    response = await client.post("/fhir", content=b'{"resourceType": "Bundle", ', headers=FHIR_JSON)
    assert response.status_code == 400
    response = await client.post("/fhir", content=b'{"resourceType":"Bundle","type":"batch"}',
                                 headers={"content-type": "application/xml"})
    assert response.status_code == 415


@pytest.mark.parametrize("kind", ["batch", "transaction"])
async def test_an_oversize_bundle_is_413_naming_the_limit(client, kind):
    body = {"resourceType": "Bundle", "type": kind,
            "entry": [{"request": {"method": "GET", "url": "Patient/x"}} for _ in range(10_001)]}
    outcome = await refused(client, body, 413)
    assert "10,001 entries" in outcome["issue"][0]["diagnostics"]
    assert "10,000" in outcome["issue"][0]["diagnostics"]


def test_the_entry_limit_is_a_setting(monkeypatch):
    from pydantic import ValidationError

    from fhir_server.config import Settings
    from fhir_server.services.bundles import MAX_ENTRIES

    assert Settings().max_bundle_entries == MAX_ENTRIES == 10_000
    monkeypatch.setenv("FHIR_MAX_BUNDLE_ENTRIES", "2")
    assert Settings().max_bundle_entries == 2
    monkeypatch.setenv("FHIR_MAX_BUNDLE_ENTRIES", "0")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("kind", ["batch", "transaction"])
async def test_the_service_enforces_the_configured_limit(runtime, settings, kind):
    from fhir_server.context import DEV_PRINCIPAL, RequestContext
    from fhir_server.errors import PayloadTooLarge
    from fhir_server.services.bundles import BundleService

    limited = settings.model_copy(update={"max_bundle_entries": 2})
    small = BundleService(resources=runtime.services.resources, max_entries=limited.max_bundle_entries)
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
    bundle = {**transaction(create(patient()), create(patient()), create(patient())), "type": kind}
    with pytest.raises(PayloadTooLarge, match="more than the 2 "):
        await small.process(ctx, bundle)
    two = {**transaction(create(patient()), create(patient())), "type": kind}
    assert b'"status":"201' in (await small.process(ctx, two)).replace(b" ", b"")


async def test_the_runtime_takes_its_limit_from_the_settings(settings):
    from fhir_server.bootstrap import start_runtime
    from fhir_server.context import DEV_PRINCIPAL, RequestContext
    from fhir_server.errors import PayloadTooLarge

    rt = await start_runtime(settings.model_copy(update={"max_bundle_entries": 2}))
    try:
        ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
        with pytest.raises(PayloadTooLarge, match="more than the 2 "):
            await rt.services.bundles.process(ctx, transaction(create(patient()), create(patient()), create(patient())))
    finally:
        await rt.close()


@pytest.mark.parametrize(("entry", "where", "text"), [
    ({"resource": patient()}, "Bundle.entry[1]", "request"),
    ({"resource": patient(), "request": {"method": "FETCH", "url": "Patient"}}, "Bundle.entry[1].request.method",
     "FETCH"),
    ({"resource": patient(), "request": {"method": "POST"}}, "Bundle.entry[1].request.url", "url is required"),
    ({"resource": patient(), "request": {"method": "POST", "url": "Spaceship"}}, "Bundle.entry[1].request.url",
     "resource type"),
    ({"request": {"method": "POST", "url": "Patient"}}, "Bundle.entry[1].resource", "needs a resource"),
    ({"resource": patient(), "request": {"method": "PUT", "url": "Patient"}}, "Bundle.entry[1].request.url",
     "[type]/[id]"),
    ({"resource": patient(), "request": {"method": "PUT", "url": "Patient/a b"}}, "Bundle.entry[1]",
     "not a valid resource id"),
    ({"resource": patient(id="other"), "request": {"method": "PUT", "url": "Patient/mine"}}, "Bundle.entry[1]",
     "does not match"),
    ({"resource": observation(), "request": {"method": "POST", "url": "Patient"}}, "Bundle.entry[1]",
     "does not match"),
    ({"resource": patient(), "request": {"method": "POST", "url": "Patient", "ifMatch": "yesterday"}},
     "Bundle.entry[1].request.ifMatch", "ETag"),
    ({"request": {"method": "GET", "url": "http://elsewhere.example.org/fhir/Patient/1"}},
     "Bundle.entry[1].request.url", "not on this server"),
    ({"request": {"method": "POST", "url": "Patient/$validate"}, "resource": patient()},
     "Bundle.entry[1].request.url", "operations are not supported"),
    ({"request": {"method": "PATCH", "url": "Patient/p1"}, "resource": patient()}, "Bundle.entry[1].resource",
     "Binary"),
    ("not an object", "Bundle.entry[1]", "JSON object"),
])
async def test_malformed_entries_are_400_and_named(client, entry, where, text):
    outcome = await refused(client, transaction(create(patient()), entry), 400)
    issue = outcome["issue"][0]
    assert issue["expression"][0] == where
    assert text in issue["diagnostics"]
    assert await versions(client) == 0


async def test_a_failing_entry_in_the_middle_names_itself_by_its_position_in_the_bundle(client):
    # processed after the POSTs (PUT phase), but named by where it stands in the Bundle
    body = transaction({"resource": patient(id="p9"), "request": {"method": "PUT", "url": "Patient/p9",
                                                                  "ifMatch": 'W/"3"'}},
                       create(patient()), create(patient()))
    outcome = await refused(client, body, 412)
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[0]"]
    assert await versions(client) == 0


async def test_fhirpath_patch_in_a_bundle_is_415(client):
    await client.put("/fhir/Patient/fp", json=patient(id="fp"))
    body = transaction({"request": {"method": "PATCH", "url": "Patient/fp"},
                        "resource": {"resourceType": "Parameters", "parameter": []}})
    outcome = await refused(client, body, 415)
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[0]"]
