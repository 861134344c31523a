"""What one message's mapping shares: options, the Bundle being built, warnings, and identifier rules.

Identifier systems follow the IG's HD[uri] map, except that a valid universal ID is preferred to the
namespace ID (the IG takes HD.1 first, which is not a URI): an ISO OID becomes `urn:oid:…`, a UUID
`urn:uuid:…`, a URI itself; a universal ID that is not what its type says is treated as a name. A namespace ID alone (`MR^^^HOSP`)
has no URI in the message; the operator may configure one per namespace
(`MappingOptions.namespace_systems`), else it becomes `<local_system_prefix><namespace>`. An
identifier with no assigning authority at all is scoped to the sending facility (MSH-4) the same way,
so equal numbers from two facilities never match the same patient.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from hl7_gateway.errors import ContentError, ErrorLocation, HL7Error, MappingError
from hl7_gateway.mapping import vocabulary as vocab
from hl7_gateway.mapping.bundle import TransactionBuilder, token_query
from hl7_gateway.mapping.datatypes import human_name, period, to_date, to_datetime, to_instant
from hl7_gateway.message import Message, Repetition

__all__ = ["MappingOptions", "MappingContext"]

_OID = re.compile(r"\d+(\.\d+)+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """Deployment choices the v2 message cannot tell."""

    default_timezone: str = "UTC"
    """Zone for v2 times sent without an offset (FHIR needs one whenever a time is given)."""
    namespace_systems: Mapping[str, str] = field(default_factory=dict)
    """Identifier system URI per v2 assigning-authority namespace ID, e.g. {"HOSP_MRN": "https://…/mrn"}."""
    local_system_prefix: str = "urn:hl7v2:"
    """Prefix for systems made from a namespace ID or sending facility when nothing better is known."""


class MappingContext:
    """State of one message's mapping."""

    def __init__(self, message: Message, options: MappingOptions) -> None:
        self.message = message
        self.header = message.header
        self.options = options
        self.tz: tzinfo = UTC if options.default_timezone in ("UTC", "Z") else ZoneInfo(options.default_timezone)
        self.builder = TransactionBuilder(f"{self.header.sender}\x1f{self.header.control_id}")
        self.warnings: list[HL7Error] = []
        msh = message.segment("MSH")
        self.sending_application = msh.value(3) if msh else ""
        self.sending_facility = msh.value(4) if msh else ""

    # -- warnings and times ------------------------------------------------------------------

    def warn(self, diagnostics: str, location: ErrorLocation, code: int = 102) -> None:
        """A problem in a field that is dropped rather than rejected: reported in the AA's ERR (severity W)."""
        self.warnings.append(ContentError(diagnostics, code=code, location=location, severity="W"))

    def datetime(self, text: str, location: ErrorLocation, *, required: bool = False) -> str | None:
        if not text:
            if required:
                raise MappingError(f"{location} is required", code=101, location=location)
            return None
        try:
            return to_datetime(text, self.tz)
        except ValueError as exc:
            if required:
                raise MappingError(str(exc), code=102, location=location) from exc
            self.warn(f"{exc}; left out", location)
            return None

    def instant(self, text: str, location: ErrorLocation) -> str | None:
        try:
            return to_instant(text, self.tz) if text else None
        except ValueError as exc:
            self.warn(f"{exc}; left out", location)
            return None

    def date(self, text: str, location: ErrorLocation) -> str | None:
        try:
            return to_date(text) if text else None
        except ValueError as exc:
            self.warn(f"{exc}; left out", location)
            return None

    def period(self, start: str, end: str, location: ErrorLocation) -> dict[str, str] | None:
        try:
            return period(start, end, self.tz)
        except ValueError as exc:
            self.warn(f"{exc}; left out", location)
            return None

    # -- identifier systems ----------------------------------------------------------------

    def local_system(self, label: str) -> str:
        configured = self.options.namespace_systems.get(label)
        return configured or f"{self.options.local_system_prefix}{quote(label, safe='')}"

    def authority_system(self, namespace: str, universal_id: str, id_type: str) -> str | None:
        """HD (namespace, universal ID, universal ID type) → a system URI (IG: HD[uri])."""
        namespace, universal_id, kind = namespace.strip(), universal_id.strip(), id_type.strip().upper()
        if namespace and namespace in self.options.namespace_systems:
            return self.options.namespace_systems[namespace]
        if universal_id:
            if kind in ("ISO", "") and _OID.fullmatch(universal_id):
                return f"urn:oid:{universal_id}"
            if kind == "UUID" and _UUID.fullmatch(universal_id):
                return f"urn:uuid:{universal_id.lower()}"
            if kind in ("URI", "HTTP") and ":" in universal_id:
                return universal_id
        if namespace:
            return self.local_system(namespace)
        if universal_id:
            return self.local_system(universal_id)
        return None

    def facility_system(self) -> str:
        return self.local_system(self.sending_facility or self.sending_application or "unknown-sender")

    def identifier(self, value: str, namespace: str, universal_id: str, id_type: str, *,
                   type_code: str = "", scoped: bool = True) -> dict[str, Any] | None:
        """An Identifier; `scoped` falls back to the sending facility when no authority is given."""
        value = value.strip()
        if not value:
            return None
        result: dict[str, Any] = {}
        if type_code.strip():
            result["type"] = {"coding": [{"system": vocab.V2_TABLE.format(203), "code": type_code.strip()}]}
        system = self.authority_system(namespace, universal_id, id_type)
        if system is None and scoped:
            system = self.facility_system()
        if system:
            result["system"] = system
        result["value"] = value
        if namespace.strip():
            result["assigner"] = {"display": namespace.strip()}
        return result

    def identifier_from_cx(self, rep: Repetition, location: ErrorLocation) -> dict[str, Any] | None:
        """CX → Identifier (IG: CX[Identifier]): CX.1 value, CX.4 authority, CX.5 type, CX.7/8 period."""
        result = self.identifier(rep.component(1), rep.component(4, 1), rep.component(4, 2), rep.component(4, 3),
                                 type_code=rep.component(5))
        if result is not None:
            span = self.period(rep.component(7), rep.component(8), location)
            if span:
                result["period"] = span
        return result

    def identifier_from_ei(self, rep: Repetition, *, type_code: str = "") -> dict[str, Any] | None:
        """EI → Identifier (IG: EI[Identifier-Extension]): EI.1 value, EI.2-4 the assigning authority."""
        return self.identifier(rep.component(1), rep.component(2), rep.component(3), rep.component(4),
                               type_code=type_code)

    # -- practitioners ---------------------------------------------------------------------

    def practitioner(self, rep: Repetition, location: ErrorLocation) -> dict[str, Any] | None:
        """XCN → a Reference: to a conditionally created Practitioner when XCN.1 identifies one,
        else a display-only reference (a name alone cannot be matched to an existing Practitioner)."""
        name = human_name(rep, first=2, tz=self.tz)
        display = " ".join(p for p in (*(name or {}).get("prefix", []), *(name or {}).get("given", []),
                                       (name or {}).get("family", "")) if p)
        ident = self.identifier(rep.component(1), rep.component(9, 1), rep.component(9, 2), rep.component(9, 3),
                                type_code=rep.component(13))
        if ident is None:
            return {"display": display} if display else None
        resource: dict[str, Any] = {"resourceType": "Practitioner", "identifier": [ident]}
        if name:
            resource["name"] = [name]
        key = f"Practitioner|{ident.get('system')}|{ident['value']}"
        full_url = self.builder.create_if_none_exist(key, resource, token_query("identifier", ident.get("system"),
                                                                                    ident["value"]))
        reference: dict[str, Any] = {"reference": full_url}
        if display:
            reference["display"] = display
        return reference
