"""SMART on FHIR scopes, v1 and v2, parsed and matched (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).

    clinical scope := ( "patient" | "user" | "system" ) "/" ( ResourceType | "*" ) "." permissions [ "?" query ]
    permissions    := v2: a non-empty subsequence of "cruds"      (c create, r read, u update, d delete, s search)
                      v1: "read" | "write" | "*"                   (read = rs, write = cud, * = cruds)
    query          := v2 only: param=value("&"param=value)*       (granular scopes, e.g. ?category=laboratory)

The other scopes this server knows are the launch-context and identity ones in `CONTEXT_SCOPES`.

Interactions map to permissions (`PERMISSION_OF`): `r` covers read, vread and instance history; `s`
covers search and type/system history; `u` update and patch; `c` create; `d` delete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode

from fhir_server.errors import BadRequest
from resources import is_resource_type

__all__ = [
    "ClinicalScope", "ScopeSet", "InvalidScope", "parse_scope", "parse_scopes", "scope_set", "is_within",
    "scope_allowed", "with_permissions", "derive", "PERMISSION_OF", "CONTEXT_SCOPES", "LEVELS", "V2_ORDER",
]

LEVELS = ("patient", "user", "system")
V2_ORDER = "cruds"
V1_PERMISSIONS = {"read": frozenset("rs"), "write": frozenset("cud"), "*": frozenset("cruds")}
CONTEXT_SCOPES = frozenset({
    "openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access",
    "online_access",
})

PERMISSION_OF = {
    "read": "r", "vread": "r", "history-instance": "r",
    "search-type": "s", "search-system": "s", "search-compartment": "s", "history-type": "s",
    "history-system": "s",
    "create": "c",
    "update": "u", "patch": "u",
    "delete": "d",
}


class InvalidScope(BadRequest):
    """A scope that does not follow the SMART grammar."""


@dataclass(frozen=True, slots=True)
class ClinicalScope:
    level: str  # patient | user | system
    res_type: str  # a resource type or "*"
    permissions: frozenset[str]  # a subset of c r u d s
    query: tuple[tuple[str, str], ...] = ()  # granular constraints, all of which a resource must meet
    v1: bool = False
    text: str = ""

    def covers(self, res_type: str | None, permission: str) -> bool:
        """True when this scope grants `permission` on `res_type` (None: every type, as system search needs)."""
        if permission not in self.permissions:
            return False
        return self.res_type == "*" or (res_type is not None and self.res_type == res_type)

    def __str__(self) -> str:
        return self.text or render(self)


def render(scope: ClinicalScope) -> str:
    if scope.v1:
        for name, permissions in V1_PERMISSIONS.items():
            if permissions == scope.permissions:
                return f"{scope.level}/{scope.res_type}.{name}"
    letters = "".join(c for c in V2_ORDER if c in scope.permissions)
    query = f"?{urlencode(scope.query)}" if scope.query else ""
    return f"{scope.level}/{scope.res_type}.{letters}{query}"


def parse_scope(text: str) -> ClinicalScope | str:
    """A clinical scope, or the name of a context scope; InvalidScope for anything else."""
    if text in CONTEXT_SCOPES:
        return text
    level, slash, rest = text.partition("/")
    if not slash or level not in LEVELS:
        raise InvalidScope(f"'{text}' is not a SMART scope this server knows")
    rest, question, query_text = rest.partition("?")
    res_type, dot, permission_text = rest.partition(".")
    if not dot or not res_type or not permission_text:
        raise InvalidScope(f"'{text}' is not a SMART scope: expected {level}/Type.permissions")
    if res_type != "*" and not is_resource_type(res_type):
        raise InvalidScope(f"'{text}' names '{res_type}', which is not an R4 resource type")
    v1 = permission_text in V1_PERMISSIONS
    if v1:
        permissions = V1_PERMISSIONS[permission_text]
    else:
        ordered = "".join(c for c in V2_ORDER if c in permission_text)
        if ordered != permission_text:
            raise InvalidScope(f"'{text}': permissions must be some of c, r, u, d, s in that order, "
                               "or read, write or *")
        permissions = frozenset(permission_text)
    query: tuple[tuple[str, str], ...] = ()
    if question:
        if v1:
            raise InvalidScope(f"'{text}': query constraints need SMART v2 permissions (cruds)")
        try:
            query = tuple(parse_qsl(query_text, keep_blank_values=False, strict_parsing=True))
        except ValueError as exc:
            raise InvalidScope(f"'{text}': the query is not param=value pairs") from exc
    return ClinicalScope(level, res_type, permissions, query, v1, text)


def parse_scopes(scopes: Iterable[str]) -> list[ClinicalScope | str]:
    return [parse_scope(s) for s in scopes]


@dataclass(frozen=True, slots=True)
class ScopeSet:
    """The parsed scopes of a token, with the questions the policy asks of them."""

    clinical: tuple[ClinicalScope, ...]
    context: frozenset[str]

    def grants(self, res_type: str | None, permission: str) -> tuple[ClinicalScope, ...]:
        """Every scope granting `permission` on `res_type`."""
        return tuple(s for s in self.clinical if s.covers(res_type, permission))

    def permits(self, res_type: str | None, permission: str) -> bool:
        return any(s.covers(res_type, permission) for s in self.clinical)

    @property
    def levels(self) -> frozenset[str]:
        return frozenset(s.level for s in self.clinical)


@lru_cache(maxsize=8192)
def scope_set(scopes: frozenset[str]) -> ScopeSet:
    """The ScopeSet of a token's scopes (cached: tokens repeat). Unparseable scopes are ignored."""
    clinical: list[ClinicalScope] = []
    context: set[str] = set()
    for text in sorted(scopes):  # sorted: the same token always gives the same filters
        try:
            parsed = parse_scope(text)
        except InvalidScope:
            continue
        if isinstance(parsed, str):
            context.add(parsed)
        else:
            clinical.append(parsed)
    return ScopeSet(tuple(clinical), frozenset(context))


def is_within(requested: ClinicalScope, granted: ClinicalScope) -> bool:
    """True when `requested` asks for no more than `granted` allows: same level, a type the granted
    covers, a subset of its permissions and at least its query constraints."""
    return (requested.level == granted.level
            and (granted.res_type == "*" or granted.res_type == requested.res_type)
            and requested.permissions <= granted.permissions
            and set(granted.query) <= set(requested.query))


def scope_allowed(text: str, allowed: Iterable[ClinicalScope | str]) -> bool:
    """True when the scope `text` is no wider than one of `allowed` (context scopes must match exactly)."""
    try:
        parsed = parse_scope(text)
    except InvalidScope:
        return False
    if isinstance(parsed, str):
        return parsed in allowed
    return any(isinstance(a, ClinicalScope) and is_within(parsed, a) for a in allowed)


def derive(scope: ClinicalScope, *, level: str | None = None, res_type: str | None = None,
           permissions: frozenset[str] | None = None) -> ClinicalScope:
    """A copy of `scope` with some parts changed and its text rendered anew (v1 spelling kept when it can)."""
    permissions = scope.permissions if permissions is None else permissions
    v1 = scope.v1 and permissions in V1_PERMISSIONS.values()
    changed = ClinicalScope(level or scope.level, res_type or scope.res_type, permissions, scope.query, v1)
    return ClinicalScope(changed.level, changed.res_type, permissions, changed.query, v1, render(changed))


def with_permissions(scope: ClinicalScope, permissions: frozenset[str]) -> ClinicalScope | None:
    """`scope` limited to `permissions`; None when nothing is left."""
    kept = scope.permissions & permissions
    if not kept:
        return None
    return scope if kept == scope.permissions else derive(scope, permissions=frozenset(kept))
