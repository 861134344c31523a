"""The SMART scope grammar (v1, v2, granular) and matcher, and what each role may be granted."""

from __future__ import annotations

import pytest

from fhir_server.auth.roles import grantable_scopes
from fhir_server.auth.scopes import (
    PERMISSION_OF,
    ClinicalScope,
    InvalidScope,
    is_within,
    parse_scope,
    scope_allowed,
    scope_set,
)


@pytest.mark.parametrize(("text", "level", "res_type", "permissions", "v1"), [
    ("patient/Observation.rs", "patient", "Observation", "rs", False),
    ("user/*.cruds", "user", "*", "cruds", False),
    ("system/Patient.c", "system", "Patient", "c", False),
    ("patient/*.read", "patient", "*", "rs", True),
    ("user/Observation.write", "user", "Observation", "cud", True),
    ("system/*.*", "system", "*", "cruds", True),
    ("user/Encounter.ud", "user", "Encounter", "ud", False),
])
def test_clinical_scopes(text, level, res_type, permissions, v1):
    scope = parse_scope(text)
    assert isinstance(scope, ClinicalScope)
    assert (scope.level, scope.res_type, scope.permissions, scope.v1) == (level, res_type, frozenset(permissions), v1)
    assert str(scope) == text


def test_granular_scope():
    scope = parse_scope("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory")
    assert isinstance(scope, ClinicalScope)
    assert scope.query == (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),)


@pytest.mark.parametrize("text", [
    "patient/Observation.sr", "patient/Observation.rr", "patient/Observation.x", "patient/Observation.",
    "patient/.rs", "patient/Spaceship.rs", "nurse/*.rs", "patient*.rs", "patient/Observation", "launch/location",
    "patient/Observation.read?category=laboratory", "patient/Observation.rs?category", "", "Patient/*.rs",
])
def test_malformed_scopes(text):
    with pytest.raises(InvalidScope):
        parse_scope(text)


@pytest.mark.parametrize("text", ["openid", "fhirUser", "launch", "launch/patient", "launch/encounter",
                                  "offline_access", "online_access", "profile"])
def test_context_scopes(text):
    assert parse_scope(text) == text


@pytest.mark.parametrize(("interaction", "permission"), [
    ("read", "r"), ("vread", "r"), ("history-instance", "r"), ("search-type", "s"), ("search-system", "s"),
    ("history-type", "s"), ("history-system", "s"), ("create", "c"), ("update", "u"), ("patch", "u"),
    ("delete", "d"),
])
def test_interactions_map_to_permissions(interaction, permission):
    assert PERMISSION_OF[interaction] == permission


def test_matcher():
    scopes = scope_set(frozenset({"patient/Observation.rs", "user/Patient.read", "system/*.c", "openid", "junk"}))
    assert scopes.permits("Observation", "r") and scopes.permits("Observation", "s")
    assert not scopes.permits("Observation", "u")
    assert scopes.permits("Patient", "s") and not scopes.permits("Patient", "d")
    assert scopes.permits("Encounter", "c") and scopes.permits(None, "c")
    assert not scopes.permits(None, "r")
    assert scopes.context == {"openid"}
    assert [s.level for s in scopes.grants("Observation", "r")] == ["patient"]


def test_v1_and_v2_are_the_same_permissions():
    v1, v2 = scope_set(frozenset({"user/*.read"})), scope_set(frozenset({"user/*.rs"}))
    for permission in "cruds":
        assert v1.permits("Observation", permission) == v2.permits("Observation", permission)


def test_within():
    def within(a, b):
        return is_within(parse_scope(a), parse_scope(b))

    assert within("patient/Observation.rs", "patient/*.rs")
    assert within("patient/Observation.r", "patient/*.read")
    assert within("patient/Observation.rs?category=laboratory", "patient/Observation.rs")
    assert not within("patient/Observation.rs", "patient/Observation.rs?category=laboratory")
    assert not within("patient/Observation.rs", "user/Observation.rs")
    assert not within("patient/Observation.cruds", "patient/*.rs")
    assert scope_allowed("openid", ["openid"]) and not scope_allowed("openid", [parse_scope("user/*.rs")])
    assert not scope_allowed("bogus", ["bogus"])


@pytest.mark.parametrize(("role", "requested", "granted"), [
    ("doctor", ["user/*.cruds", "patient/*.rs", "system/*.rs", "openid"], ["user/*.cruds", "patient/*.rs", "openid"]),
    ("trainee", ["user/*.cruds", "system/*.rs"], ["user/*.cruds"]),
    ("patient", ["user/*.rs", "patient/Observation.rs", "launch/patient"],
     ["patient/*.rs", "patient/Observation.rs", "launch/patient"]),
    ("patient", ["user/*.read"], ["patient/*.read"]),
    ("analyst", ["user/*.cruds", "user/Observation.write", "user/*.*", "user/Patient.cu"], ["user/*.rs", "user/*.read"]),
    ("admin", ["user/*.cruds", "user/Observation.rs", "user/AuditEvent.rs", "launch/patient", "openid",
               "offline_access"], ["user/AuditEvent.rs", "openid", "offline_access"]),
    ("system", ["system/*.rs", "user/*.rs", "openid"], ["system/*.rs"]),
])
def test_what_roles_may_hold(role, requested, granted):
    assert grantable_scopes(role, requested) == granted
