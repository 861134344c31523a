"""Doing a transaction's CPU work before its database transaction opens.

A transaction's POST entries get their new ids here, and every resource whose final form does not
depend on the database — no conditional reference inside, and no conditional entry in the Bundle
whose identity it could refer to — is rewritten and staged (stamped, serialised, indexed) now,
outside any lock. Inside the transaction only what truly depends on the database is done: the
conditional matches, and the staging of the resources that waited for them (or that turn out to
be updates of an existing resource, whose version number only the database knows).
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.ids import new_id
from fhir_server.services.bundle_entries import BundleEntry
from fhir_server.services.bundle_errors import at_entry, no_such_entry
from fhir_server.services.bundle_references import Identities, unresolved
from fhir_server.services.resources import ResourceService
from fhir_server.services.write_ops import Prepared

__all__ = ["Plan", "plan_transaction"]


@dataclass(frozen=True, slots=True)
class Plan:
    """`assigned`: the new id of each plain POST entry (by entry index); `prepared`: every POST / PUT
    entry's resource, staged already where it could be."""

    assigned: dict[int, str]
    prepared: dict[int, Prepared]


def plan_transaction(resources: ResourceService, entries: list[BundleEntry], prepared: dict[int, Prepared], *,
                     base_url: str, bind_full_urls: bool) -> Plan:
    assigned: dict[int, str] = {}
    identities = Identities()
    waiting = False  # a conditional entry's identity is only known inside the transaction
    for entry in entries:
        if entry.method == "POST" and not entry.if_none_exist:
            assigned[entry.index] = new_id()
            if bind_full_urls:
                identities.bind(entry.full_url, entry.res_type, assigned[entry.index], base_url=base_url)
        elif entry.method in ("PUT", "PATCH") and entry.res_id is not None:
            if bind_full_urls:
                identities.bind(entry.full_url, entry.res_type, entry.res_id, base_url=base_url)
        elif entry.method in ("POST", "PUT", "PATCH") and entry.full_url and bind_full_urls:
            waiting = True
    staged = dict(prepared)
    if waiting:  # every resource may refer to a conditional entry: all are rewritten inside the transaction
        return Plan(assigned, staged)
    for entry in entries:
        target = assigned.get(entry.index) or (entry.res_id if entry.method == "PUT" else None)
        if target is None or entry.index not in prepared:
            continue
        unknown: list[str] = []
        resource = identities.rewrite(prepared[entry.index].content(), unknown)
        conditional, dangling = unresolved(unknown)
        if bind_full_urls and dangling:
            raise at_entry(no_such_entry(dangling[0]), entry.index, entry.res_type)
        if conditional:
            continue
        staged[entry.index] = Prepared(entry.res_type, resource, prepared[entry.index].issues,
                                       resources.stage(resource, target))
    return Plan(assigned, staged)
