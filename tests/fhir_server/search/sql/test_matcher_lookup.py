"""Conditional-write criteria read without a parse (`SearchMatcher._plain_lookup`) match exactly what
the full parse matches, and every other shape still goes through it."""

from __future__ import annotations

from fhir_server.context import DEV_PRINCIPAL, RequestContext

SYSTEM = "http://hospital.example/Mrn"


async def test_plain_identifier_criteria_match_as_the_full_parse_does(runtime) -> None:
    ctx = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")
    values = ["A-1", "a-1", "B|2", "C,3", "D 4"]
    for value in values:
        await runtime.services.resources.create(ctx, "Patient", {"resourceType": "Patient", "identifier": [
            {"system": SYSTEM, "value": value}]})
    matcher = runtime.services.resources.matcher
    wanted = [
        ("Patient", (("identifier", f"{SYSTEM}|A-1"),)),   # read directly
        ("Patient", (("identifier", f"{SYSTEM}|a-1"),)),   # codes are case-sensitive
        ("Patient", (("identifier", f"{SYSTEM}|B\\|2"),)),  # an escaped bar: parsed
        ("Patient", (("identifier", f"{SYSTEM}|C\\,3"),)),  # an escaped comma: parsed
        ("Patient", (("identifier", f"{SYSTEM}|A-1,{SYSTEM}|a-1"),)),  # either: parsed
        ("Patient", (("identifier", f"{SYSTEM}|D 4"),)),
        ("Patient", (("identifier", f"{SYSTEM.lower()}|A-1"),)),  # another system: no match
        ("Patient", (("identifier", "|A-1"),)),  # no system: parsed
        ("Patient", (("identifier:not", f"{SYSTEM}|A-1"),)),  # a modifier: parsed
        ("Observation", (("code", "http://loinc.org|2345-7"),)),
    ]
    async with runtime.store.write() as tx:
        together = await matcher.many(tx, wanted)
        alone = [await matcher(tx, res_type, criteria) for res_type, criteria in wanted]
    assert together == alone
    assert [len(found) for found in together] == [1, 1, 1, 1, 2, 1, 0, 0, 4, 0]
    if runtime.store.is_sqlite:
        return  # SQLite runs every criterion through the full parse
    generation = runtime.services.resources.matcher.registry.generation
    assert matcher._lookup_params[(generation, "Patient", "identifier")] == "identifier"
    assert matcher._lookup_params[(generation, "Patient", "identifier:not")] is None  # learnt: not read directly
