"""The kick-off parameters of `$export`, checked and normalised (https://hl7.org/fhir/uv/bulkdata/export.html).

| parameter | supported |
|---|---|
| `_outputFormat` | `application/fhir+ndjson`, `application/ndjson`, `ndjson` (an unencoded `+` read as a space too) |
| `_since` | FHIR instant (a dateTime is taken at its start): resources changed after it |
| `_type` | comma-separated and/or repeated resource types |
| `_typeFilter` | `Type?criteria` in the search grammar of this server (repeats for one type are OR-ed) |
| `_elements` | `element` (every type) or `Type.element`; mandatory elements are kept, resources marked SUBSETTED |
| `includeAssociatedData` | `RelevantProvenanceResources`: the Provenance of the exported resources |
| `patient` | (POST, Patient/Group level) only these patients' data |
| `_deidentify` | custom: `safe-harbor` or `date-shift` research extracts (see `deidentify/`) |

A type or value this server cannot honour is refused with 400, or under `Prefer: handling=lenient`
left out with a note in the export's error file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fhir_server.errors import BadRequest
from fhir_server.search.dates import parse_date_range
from resources import is_resource_type
from resources.definitions import patient_compartment

__all__ = ["ExportRequest", "parse_export", "OUTPUT_FORMATS", "DEIDENTIFY_MODES", "ASSOCIATED_DATA",
           "compartment_types", "MAX_PATIENTS"]

OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
DEIDENTIFY_MODES = ("safe-harbor", "date-shift")
ASSOCIATED_DATA = frozenset({"RelevantProvenanceResources"})
MAX_PATIENTS = 1000


def compartment_types() -> dict[str, tuple[str, ...]]:
    """Resource type -> the search parameters putting it in the Patient compartment (Patient: ())."""
    out = {entry["code"]: tuple(entry.get("param") or ()) for entry in patient_compartment()["resource"]
           if entry.get("param")}
    out["Patient"] = ()
    return out


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """`level`: system | patient | group. `types` None: every type the level allows."""

    level: str
    group_id: str | None = None
    types: tuple[str, ...] | None = None
    since: int | None = None
    since_text: str | None = None
    type_filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    elements: tuple[str, ...] = ()
    include_associated: tuple[str, ...] = ()
    patients: tuple[str, ...] = ()
    deidentify: str | None = None
    output_format: str = "application/fhir+ndjson"
    notes: tuple[str, ...] = ()
    # the public base URL of /fhir at kick-off (de-identification rewrites absolute references to it)
    base_url: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["type_filters"] = {k: list(v) for k, v in self.type_filters.items()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportRequest:
        return cls(
            level=data["level"], group_id=data.get("group_id"),
            types=tuple(data["types"]) if data.get("types") is not None else None,
            since=data.get("since"), since_text=data.get("since_text"),
            type_filters={k: tuple(v) for k, v in (data.get("type_filters") or {}).items()},
            elements=tuple(data.get("elements") or ()), include_associated=tuple(data.get("include_associated") or ()),
            patients=tuple(data.get("patients") or ()), deidentify=data.get("deidentify"),
            output_format=data.get("output_format", "application/fhir+ndjson"), notes=tuple(data.get("notes") or ()),
            base_url=data.get("base_url", ""),
        )


def _split(values: Iterable[Any]) -> list[str]:
    return [part.strip() for value in values for part in str(value).split(",") if part.strip()]


class _Refusals:
    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.notes: list[str] = []

    def refuse(self, message: str, code: str = "not-supported") -> None:
        if not self.lenient:
            raise BadRequest(message, code=code)
        self.notes.append(message)


def _output_format(value: Any) -> str:
    text = "application/fhir+ndjson" if value is None else str(value).strip().replace(" ", "+")
    if text not in OUTPUT_FORMATS:
        raise BadRequest(f"_outputFormat '{value}' is not supported: use application/fhir+ndjson", code="not-supported")
    return "application/fhir+ndjson"


def _since(value: Any) -> tuple[int | None, str | None]:
    if value is None:
        return None, None
    try:
        return parse_date_range(str(value))[0], str(value)
    except ValueError as exc:
        raise BadRequest(f"_since must be a FHIR instant: {exc}") from exc


def _types(values: list[str], level: str, refusals: _Refusals) -> tuple[str, ...] | None:
    if not values:
        return None
    allowed = compartment_types() if level != "system" else None
    types: list[str] = []
    for name in values:
        if not is_resource_type(name):
            refusals.refuse(f"_type '{name}' is not a FHIR R4 resource type")
        elif allowed is not None and name not in allowed:
            refusals.refuse(f"_type '{name}' is not in the Patient compartment, so a {level}-level export "
                            "cannot contain it")
        elif name not in types:
            types.append(name)
    if not types:
        raise BadRequest("none of the types in _type can be exported", code="not-supported")
    return tuple(types)


def _type_filters(values: list[str], types: tuple[str, ...] | None, refusals: _Refusals) -> dict[str, tuple[str, ...]]:
    filters: dict[str, list[str]] = {}
    for value in values:
        res_type, mark, query = value.partition("?")
        if not mark or not is_resource_type(res_type) or not query:
            raise BadRequest(f"_typeFilter must look like Type?criteria, got '{value}'")
        if types is not None and res_type not in types:
            refusals.refuse(f"_typeFilter names {res_type}, which is not among the exported types (_type)")
            continue
        if any(name.startswith("_") and name not in ("_id", "_lastUpdated", "_tag", "_profile", "_security",
                                                      "_has", "_list", "_text", "_content")
               for name, _ in parse_qsl(query, keep_blank_values=True)):
            raise BadRequest(f"_typeFilter '{value}' may hold search criteria only, not result parameters")
        filters.setdefault(res_type, []).append(query)
    return {k: tuple(v) for k, v in filters.items()}


def _elements(values: list[str]) -> tuple[str, ...]:
    for name in values:
        head, _, tail = name.partition(".")
        if not head or (tail and (not is_resource_type(head) or "." in tail)):
            raise BadRequest(f"_elements entries are `element` or `Type.element`, got '{name}'")
    return tuple(values)


def _patients(entries: list[Any], level: str) -> tuple[str, ...]:
    if not entries:
        return ()
    if level == "system":
        raise BadRequest("the patient parameter applies to Patient- and Group-level exports")
    if len(entries) > MAX_PATIENTS:
        raise BadRequest(f"at most {MAX_PATIENTS} patient references may be given", code="too-costly")
    out = []
    for entry in entries:
        reference = entry.get("reference") if isinstance(entry, dict) else entry
        res_type, _, res_id = str(reference or "").partition("/")
        if res_type != "Patient" or not res_id or "/" in res_id:
            raise BadRequest(f"patient must be a Reference to a Patient (Patient/[id]), got {reference!r}")
        out.append(res_id)
    return tuple(dict.fromkeys(out))


def parse_export(*, level: str, group_id: str | None, single: dict[str, Any], lists: dict[str, list[Any]],
                 lenient: bool, base_url: str = "") -> ExportRequest:
    """The request from the operation's inputs: `single` the one-valued ones, `lists` the repeatable
    ones (`_type`, `_typeFilter`, `_elements`, `includeAssociatedData`, `patient`)."""
    refusals = _Refusals(lenient)
    output_format = _output_format(single.get("_outputFormat"))
    since, since_text = _since(single.get("_since"))
    types = _types(_split(lists.get("_type", [])), level, refusals)
    type_filters = _type_filters([str(v) for v in lists.get("_typeFilter", [])], types, refusals)
    elements = _elements(_split(lists.get("_elements", [])))
    associated: list[str] = []
    for value in _split(lists.get("includeAssociatedData", [])):
        if value in ASSOCIATED_DATA:
            associated.append(value)
        else:
            refusals.refuse(f"includeAssociatedData '{value}' is not supported (supported: "
                            f"{', '.join(sorted(ASSOCIATED_DATA))})")
    deidentify = single.get("_deidentify")
    if deidentify is not None and deidentify not in DEIDENTIFY_MODES:
        raise BadRequest(f"_deidentify must be one of {', '.join(DEIDENTIFY_MODES)}, got '{deidentify}'")
    return ExportRequest(
        level=level, group_id=group_id, types=types, since=since, since_text=since_text, type_filters=type_filters,
        elements=elements, include_associated=tuple(associated), patients=_patients(lists.get("patient", []), level),
        deidentify=deidentify, output_format=output_format, notes=tuple(refusals.notes), base_url=base_url,
    )
