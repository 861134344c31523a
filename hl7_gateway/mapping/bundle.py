"""The FHIR transaction Bundle one v2 message becomes (https://hl7.org/fhir/R4/bundle.html#transaction).

Every entry is written so that filing the same message twice changes nothing but version numbers:

* resources found by a business identifier are a conditional create (`ifNoneExist`, e.g. the Patient
  of a lab result, a Practitioner) or a conditional update (`PUT Type?identifier=system|value`, e.g.
  an Observation, so a corrected result replaces the same resource);
* resources with no business identifier get an id derived from the message (uuid5 of the sender,
  MSH-10 and the entry's role) and a plain `PUT Type/id` (update-as-create), e.g. the Provenance;
* entries reference each other through `urn:uuid:` fullUrls, also derived from the message, which the
  server resolves to the ids it assigns (§3.1.0.11.2 "Resolving references in Bundles").
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import quote

__all__ = ["TransactionBuilder", "token_query"]

_NAMESPACE = uuid.UUID("6f1d3a52-94c1-4a9e-8d0e-2f6c0b7a4e11")  # this gateway's uuid5 namespace


def _search_escape(text: str) -> str:
    """Escape FHIR search special characters in a parameter value (R4 search §3.1.1.5.7)."""
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("|", "\\|").replace("$", "\\$")


def token_query(name: str, system: str | None, value: str) -> str:
    """`identifier=system|value`, escaped for search and percent-encoded for a Bundle.request.url."""
    safe = ":/.-_~"
    encoded_value = quote(_search_escape(value), safe=safe)
    if system is None:
        return f"{name}={encoded_value}"
    return f"{name}={quote(_search_escape(system), safe=safe)}|{encoded_value}"


class TransactionBuilder:
    """Collects entries; one key per logical resource so repeated references reuse one entry."""

    def __init__(self, seed: str) -> None:
        self._seed = seed
        self._entries: list[dict[str, Any]] = []
        self._by_key: dict[str, str] = {}

    def stable_id(self, key: str) -> str:
        """A uuid derived from the message and `key`: the same message always yields the same ids."""
        return str(uuid.uuid5(_NAMESPACE, f"{self._seed}\x1f{key}"))

    def get(self, key: str) -> str | None:
        """The fullUrl already given to `key`, if any."""
        return self._by_key.get(key)

    def _add(self, key: str, resource: dict[str, Any], request: dict[str, Any]) -> str:
        existing = self._by_key.get(key)
        if existing is not None:
            return existing
        full_url = f"urn:uuid:{self.stable_id(key)}"
        self._by_key[key] = full_url
        self._entries.append({"fullUrl": full_url, "resource": resource, "request": request})
        return full_url

    def create_if_none_exist(self, key: str, resource: dict[str, Any], query: str) -> str:
        """Conditional create: POST, unless a resource matching `query` exists (then it is used)."""
        return self._add(key, resource, {"method": "POST", "url": resource["resourceType"], "ifNoneExist": query})

    def update_matching(self, key: str, resource: dict[str, Any], query: str) -> str:
        """Conditional update: PUT Type?query - creates when nothing matches, replaces the one match."""
        return self._add(key, resource, {"method": "PUT", "url": f"{resource['resourceType']}?{query}"})

    def update_with_id(self, key: str, resource: dict[str, Any], *, global_key: str | None = None) -> str:
        """Update-as-create with an id derived from the message (or from `global_key` alone, for a
        resource that later messages must find again, e.g. the specimen of an order)."""
        resource_id = str(uuid.uuid5(_NAMESPACE, global_key)) if global_key else self.stable_id(key)
        resource["id"] = resource_id
        return self._add(key, resource, {"method": "PUT", "url": f"{resource['resourceType']}/{resource_id}"})

    def patch_matching(self, key: str, resource_type: str, query: str, operations: list[dict[str, Any]]) -> str:
        """Conditional JSON Patch (a Binary entry, as R4 transactions carry patches)."""
        body = base64.b64encode(json.dumps(operations, separators=(",", ":")).encode("utf-8")).decode("ascii")
        binary = {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": body}
        return self._add(key, binary, {"method": "PATCH", "url": f"{resource_type}?{query}"})

    @property
    def full_urls(self) -> list[str]:
        """fullUrls of the entries that are resources (not patches), in order."""
        return [e["fullUrl"] for e in self._entries if e["request"]["method"] != "PATCH"]

    def build(self) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "transaction", "entry": list(self._entries)}
