"""What a stored resource becomes as one NDJSON line: as stored, subsetted (`_elements`), de-identified.

Without `_elements` or `_deidentify` the stored bytes are the line (they are compact JSON already),
so the common export never parses a resource. Otherwise the resource is parsed, subsetted (the
listed elements plus the mandatory ones, tagged SUBSETTED) and then de-identified.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from fhir_server.bulk.deidentify import Deidentifier
from fhir_server.bulk.request import ExportRequest
from fhir_server.services.elements import select_elements
from resources import fhir_json

__all__ = ["OutputTransform"]

# stored bodies were validated when written (no duplicate keys): parse them without that check,
# keeping decimals exact as `fhir_json` does
_stored = json.JSONDecoder(parse_float=Decimal)


class OutputTransform:
    def __init__(self, request: ExportRequest, deidentifier: Deidentifier | None = None) -> None:
        self.deidentifier = deidentifier
        self._elements: dict[str, str | None] = {}
        self._everywhere = [name for name in request.elements if "." not in name]
        self._by_type = request.elements

    def _elements_of(self, res_type: str) -> str | None:
        if res_type not in self._elements:
            names = list(self._everywhere) + [name.split(".", 1)[1] for name in self._by_type
                                              if name.startswith(res_type + ".")]
            self._elements[res_type] = ",".join(names) if names else None
        return self._elements[res_type]

    @property
    def passthrough(self) -> bool:
        return self.deidentifier is None and not self._by_type

    def line(self, res_type: str, body: bytes) -> bytes | None:
        """The NDJSON line (without its newline); None when de-identification keeps nothing."""
        if self.passthrough:
            return body if b"\n" not in body and b"\r" not in body else orjson.dumps(orjson.loads(body))
        resource: dict[str, Any] | None = _stored.decode(body.decode())
        elements = self._elements_of(res_type)
        if elements is not None and resource is not None:
            resource = select_elements(resource, elements)
        if self.deidentifier is not None and resource is not None:
            resource = self.deidentifier(resource)
        return None if resource is None else fhir_json.dumps(resource)

    def deleted_line(self, res_type: str, res_id: str) -> bytes:
        """A transaction Bundle with the DELETE of one resource (Bulk Data `deleted` files)."""
        if self.deidentifier is not None:
            res_id = self.deidentifier.pseudonyms.pseudonym(res_type, res_id)
        return orjson.dumps({"resourceType": "Bundle", "type": "transaction",
                             "entry": [{"request": {"method": "DELETE", "url": f"{res_type}/{res_id}"}}]})

    def reference(self, res_type: str, res_id: str) -> str:
        """How an error names a resource: its pseudonym in a de-identified export."""
        if self.deidentifier is not None:
            res_id = self.deidentifier.pseudonyms.pseudonym(res_type, res_id)
        return f"{res_type}/{res_id}"
