"""Display names of the practitioners, departments and locations strata are keyed by.

Read from the current resources in one query per type: a practitioner's name (`Dr Ada Okafor`), an
organization's or location's `name`; a key whose resource is missing keeps its reference as label.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import false, select

from fhir_server.db.tables import resources
from fhir_server.storage.repository import ResourceStore
from resources import fhir_json

__all__ = ["ReferenceLabels", "display_name"]


def _human_name(names: Any) -> str | None:
    if not isinstance(names, list):
        return None
    for name in names:
        if not isinstance(name, dict):
            continue
        if isinstance(name.get("text"), str):
            return name["text"]
        parts = [*(name.get("prefix") or ()), *(name.get("given") or ()), name.get("family")]
        text = " ".join(part for part in parts if isinstance(part, str) and part)
        if text:
            return text
    return None


def display_name(resource: dict[str, Any]) -> str | None:
    """A short human name for a Practitioner, PractitionerRole, Organization or Location."""
    if isinstance(resource.get("name"), str):
        return resource["name"]
    found = _human_name(resource.get("name"))
    if found:
        return found
    practitioner = resource.get("practitioner")
    if isinstance(practitioner, dict) and isinstance(practitioner.get("display"), str):
        return practitioner["display"]
    return None


class ReferenceLabels:
    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    async def labels(self, references: Iterable[str]) -> dict[str, str]:
        """`Type/id` -> display name, for those that resolve to a named resource."""
        by_type: dict[str, set[str]] = {}
        for reference in references:
            res_type, _, res_id = reference.partition("/")
            if res_id:
                by_type.setdefault(res_type, set()).add(res_id)
        out: dict[str, str] = {}
        r = resources
        async with self.store.read() as tx:
            for res_type, ids in by_type.items():
                wanted = sorted(ids)
                for start in range(0, len(wanted), 500):
                    rows = await tx.select(select(r.c.res_id, r.c.version_id, r.c.body).where(
                        r.c.res_type == res_type, r.c.res_id.in_(wanted[start:start + 500]),
                        r.c.deleted.is_(false())))
                    for row in rows:
                        body = self.store.open(res_type, row["res_id"], row["version_id"], row["body"])
                        name = display_name(fhir_json.loads(body)) if body else None
                        if name:
                            out[f"{res_type}/{row['res_id']}"] = name
        return out
