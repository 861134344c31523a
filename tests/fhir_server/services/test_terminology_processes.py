"""User terminology reaches every process: this one's writes as they commit (never a rolled-back one),
other processes' through `refresh` (the follower runs it every FHIR_TERMINOLOGY_POLL_SECONDS)."""

from __future__ import annotations

import pytest

from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.errors import FhirError

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
URL = "http://example.org/fhir/ValueSet/ward-codes"
SYSTEM = "http://example.org/fhir/CodeSystem/wards"


def value_set(*codes: str) -> dict:
    return {"resourceType": "ValueSet", "id": "wards", "url": URL, "status": "active",
            "compose": {"include": [{"system": SYSTEM, "concept": [{"code": c} for c in codes]}]}}


def codes(runtime) -> set[tuple[str, str]] | None:
    try:
        return set(runtime.terminology.value_set_codes(URL))
    except FhirError:
        return None


@pytest.fixture
async def other(settings):
    """A second process on the same database (an API worker, the job worker, the MLLP gateway)."""
    from fhir_server.bootstrap import start_runtime

    rt = await start_runtime(settings.model_copy(update={"terminology_poll_seconds": 3600}))
    try:
        yield rt
    finally:
        await rt.close()


async def test_writes_of_another_process_take_part_after_a_refresh(runtime, other):
    await runtime.services.resources.update(CTX, "ValueSet", "wards", value_set("icu"))
    assert codes(runtime) == {(SYSTEM, "icu")}  # this process: at once
    assert codes(other) is None
    assert await other.terminology.refresh() == 1
    assert codes(other) == {(SYSTEM, "icu")}
    assert await other.terminology.refresh() == 0  # nothing new: nothing applied twice

    await runtime.services.resources.update(CTX, "ValueSet", "wards", value_set("icu", "hdu"))
    await other.terminology.refresh()
    assert codes(other) == {(SYSTEM, "icu"), (SYSTEM, "hdu")}

    await runtime.services.resources.delete(CTX, "ValueSet", "wards")
    assert codes(runtime) is None
    await other.terminology.refresh()
    assert codes(other) is None


async def test_a_rolled_back_write_changes_no_terminology(runtime):
    async def write_then_fail(tx):
        prepared = runtime.services.resources.prepare_update("ValueSet", "wards", value_set("icu"))
        await runtime.services.resources.update_in(tx, CTX, "wards", prepared)
        raise RuntimeError("the rest of the transaction failed")

    with pytest.raises(RuntimeError):
        await runtime.services.resources.run_in_transaction(write_then_fail)
    assert codes(runtime) is None
    assert await runtime.terminology.refresh() == 0
    assert codes(runtime) is None
