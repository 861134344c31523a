"""The access policy: allow, deny or filter for each role, level and granular scope."""

from __future__ import annotations

import pytest

from fhir_server.auth.policy import AccessPolicy, SearchFilter, check_interaction
from fhir_server.context import DEV_PRINCIPAL, Principal
from fhir_server.errors import Forbidden
from fhir_server.search import SearchRegistry, extract
from tests.fhir_server.auth.harness import RESOURCES

REGISTRY = SearchRegistry.from_definitions()
LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


def principal(role, *scopes, patient=None, subject="u1"):
    return Principal(subject=subject, role=role, scopes=frozenset(scopes), client_id="app", patient=patient)


@pytest.fixture
def policy():
    async def linked(p):
        return {"trainee1": frozenset({"p1", "p2"})}.get(p.subject, frozenset())

    return AccessPolicy(index_rows=lambda r: extract(REGISTRY, r), linked_patients=linked)


def obs(patient, **extra):
    return {"resourceType": "Observation", "id": "x", "status": "final", "code": {"text": "t"},
            "subject": {"reference": f"Patient/{patient}"}, **extra}


async def test_dev_principal_may_do_anything(policy):
    check_interaction(DEV_PRINCIPAL, "delete", "Patient")
    assert await policy.compartment_filter(DEV_PRINCIPAL, "Observation") is None
    await policy.check_resource(DEV_PRINCIPAL, "delete", RESOURCES[("Observation", "o1")])


async def test_doctor_user_scopes(policy):
    doctor = principal("doctor", "user/*.rs")
    check_interaction(doctor, "read", "Observation")
    check_interaction(doctor, "search-system", None)
    assert await policy.compartment_filter(doctor, "Observation") is None
    await policy.check_resource(doctor, "read", RESOURCES[("Observation", "o3")])
    for interaction in ("create", "update", "patch", "delete"):
        with pytest.raises(Forbidden):
            check_interaction(doctor, interaction, "Observation")


async def test_patient_compartment(policy):
    patient = principal("patient", "patient/*.cruds", patient="p1")
    found = await policy.compartment_filter(patient, "Observation")
    assert found == SearchFilter(((("subject", "Patient/p1"),), (("performer", "Patient/p1"),)))
    found = await policy.compartment_filter(patient, "Patient")
    assert found == SearchFilter(((("_id", "p1"),), (("link", "Patient/p1"),)))
    assert await policy.compartment_filter(patient, "Practitioner") is None  # shared data
    assert await policy.compartment_filter(patient, "Device") == SearchFilter(
        ((("patient", "Patient/p1"),), (("patient:missing", "true"),)))
    with pytest.raises(Forbidden):
        await policy.compartment_filter(patient, "Binary")
    await policy.check_resource(patient, "read", RESOURCES[("Observation", "o1")])
    await policy.check_resource(patient, "read", RESOURCES[("Patient", "p1")])
    await policy.check_resource(patient, "read", RESOURCES[("Practitioner", "sup1")])
    for resource in (RESOURCES[("Observation", "o3")], RESOURCES[("Patient", "p3")]):
        with pytest.raises(Forbidden):
            await policy.check_resource(patient, "read", resource)
    await policy.check_resource(patient, "create", obs("p1"))
    with pytest.raises(Forbidden):
        await policy.check_resource(patient, "create", obs("p3"))
    with pytest.raises(Forbidden):
        check_interaction(patient, "update", "Practitioner")
    with pytest.raises(Forbidden):
        await policy.check_resource(patient, "create", {"resourceType": "Device", "id": "d"})
    await policy.check_resource(patient, "create", {"resourceType": "Device", "id": "d",
                                                    "patient": {"reference": "Patient/p1"}})


async def test_patient_level_scope_needs_a_patient_in_context(policy):
    without = principal("doctor", "patient/*.rs")
    with pytest.raises(Forbidden):
        check_interaction(without, "read", "Observation")
    with pytest.raises(Forbidden):
        check_interaction(principal("patient", "patient/*.rs"), "read", "Observation")


async def test_doctor_with_both_levels_is_not_limited(policy):
    doctor = principal("doctor", "patient/*.rs", "user/Observation.rs", patient="p1")
    assert await policy.compartment_filter(doctor, "Observation") is None
    assert await policy.compartment_filter(doctor, "Condition") == SearchFilter(
        ((("patient", "Patient/p1"),), (("asserter", "Patient/p1"),)))


async def test_granular_scopes(policy):
    patient = principal("patient", f"patient/Observation.rs?category={LAB}", patient="p1")
    found = await policy.compartment_filter(patient, "Observation")
    assert found == SearchFilter(((("subject", "Patient/p1"), ("category", LAB)),
                                  (("performer", "Patient/p1"), ("category", LAB))))
    await policy.check_resource(patient, "read", RESOURCES[("Observation", "o1")])
    with pytest.raises(Forbidden):
        await policy.check_resource(patient, "read", obs("p1"))
    doctor = principal("doctor", "user/Observation.rs?category=laboratory", "user/Observation.rs?category=vital-signs")
    assert await policy.compartment_filter(doctor, "Observation") == SearchFilter(
        ((("category", "laboratory"),), (("category", "vital-signs"),)))
    await policy.check_resource(doctor, "read", RESOURCES[("Observation", "o1")])
    with pytest.raises(Forbidden):
        await policy.check_resource(doctor, "read", RESOURCES[("Observation", "o3")])


async def test_a_granular_scope_on_a_union_parameter_reads_the_rows_it_unites(policy):
    """combo-code has no index rows of its own: a resource meets `combo-code=x` when its code or one of
    its components' codes is x."""
    doctor = principal("doctor", "user/Observation.rs?combo-code=http://loinc.org|8480-6")
    systolic = {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}
    await policy.check_resource(doctor, "read", obs("p1", code=systolic))
    await policy.check_resource(doctor, "read", obs("p1", component=[{"code": systolic, "valueString": "x"}]))
    with pytest.raises(Forbidden):
        await policy.check_resource(doctor, "read", obs("p1", code={"coding": [{"system": "http://loinc.org",
                                                                                "code": "8462-4"}]}))


async def test_trainee_sees_only_the_supervisors_patients(policy):
    trainee = principal("trainee", "user/*.cruds", subject="trainee1")
    found = await policy.compartment_filter(trainee, "Observation")
    assert found == SearchFilter(((("subject", "Patient/p1,Patient/p2"),), (("performer", "Patient/p1,Patient/p2"),)))
    await policy.check_resource(trainee, "read", RESOURCES[("Observation", "o1")])
    await policy.check_resource(trainee, "update", obs("p2"))
    with pytest.raises(Forbidden):
        await policy.check_resource(trainee, "read", RESOURCES[("Observation", "o3")])
    with pytest.raises(Forbidden):
        await policy.check_resource(trainee, "create", obs("p3"))
    with pytest.raises(Forbidden):
        check_interaction(trainee, "create", "Medication")
    assert await policy.compartment_filter(trainee, "Medication") is None
    await policy.check_patient_access(trainee, "p2")
    with pytest.raises(Forbidden):
        await policy.check_patient_access(trainee, "p3")
    lonely = principal("trainee", "user/*.rs", subject="trainee2")
    assert (await policy.compartment_filter(lonely, "Observation")).nothing
    in_context = principal("trainee", "patient/*.rs", subject="trainee1", patient="p3")
    assert (await policy.compartment_filter(in_context, "Observation")).nothing


async def test_trainee_without_a_linkage_lookup_sees_nothing():
    policy = AccessPolicy(index_rows=lambda r: extract(REGISTRY, r))
    trainee = principal("trainee", "user/*.rs", subject="trainee1")
    assert (await policy.compartment_filter(trainee, "Observation")).nothing


async def test_admin_sees_audit_events_only(policy):
    admin = principal("admin", "user/AuditEvent.rs", "user/*.cruds")
    check_interaction(admin, "search-type", "AuditEvent")
    assert await policy.compartment_filter(admin, "AuditEvent") is None
    await policy.check_resource(admin, "read", RESOURCES[("AuditEvent", "a1")])
    for interaction, res_type in (("read", "Observation"), ("search-type", "Patient"), ("create", "AuditEvent"),
                                  ("delete", "AuditEvent")):
        with pytest.raises(Forbidden):
            check_interaction(admin, interaction, res_type)


async def test_analyst_reads_and_exports(policy):
    analyst = principal("analyst", "user/*.cruds")
    check_interaction(analyst, "search-type", "Observation")
    check_interaction(analyst, "operation", "Patient", operation="$export")
    check_interaction(analyst, "operation", None, operation="$export")
    assert await policy.compartment_filter(analyst, "Observation") is None
    for interaction in ("create", "update", "delete"):
        with pytest.raises(Forbidden):
            check_interaction(analyst, interaction, "Observation")
    with pytest.raises(Forbidden):
        check_interaction(analyst, "operation", "PlanDefinition", operation="$apply")


async def test_system_scopes(policy):
    system = Principal(subject="backend", role="system", scopes=frozenset({"system/Observation.rs",
                                                                          "user/*.cruds", "patient/*.cruds"}),
                       client_id="backend")
    check_interaction(system, "read", "Observation")
    assert await policy.compartment_filter(system, "Observation") is None
    with pytest.raises(Forbidden):
        check_interaction(system, "read", "Patient")  # user/ and patient/ scopes are not a system's
    with pytest.raises(Forbidden):
        check_interaction(principal("doctor", "system/*.rs"), "read", "Patient")


async def test_operations_need_read_or_write(policy):
    reader = principal("doctor", "user/*.rs")
    check_interaction(reader, "operation", "Patient", operation="$everything", instance=True)
    check_interaction(reader, "operation", "ValueSet", operation="$expand")
    with pytest.raises(Forbidden):
        check_interaction(reader, "operation", "Patient", operation="$merge")
    writer = principal("doctor", "user/*.cruds")
    check_interaction(writer, "operation", "Patient", operation="$merge")


async def test_unknown_interaction_is_refused(policy):
    with pytest.raises(Forbidden):
        check_interaction(principal("doctor", "user/*.cruds"), "teleport", "Patient")
