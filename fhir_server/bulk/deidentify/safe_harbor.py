"""HIPAA Safe Harbor de-identification of FHIR resources (45 CFR 164.514(b)(2)), driven by data types.

Every property is judged by its FHIR type (`shapes.py`), so the rules hold for all 146 resource
types, backbone elements, extensions and contained resources alike. The 18 identifier kinds:

| kind | rule |
|---|---|
| names (1) | `HumanName` removed; free text (`string`, `markdown`) removed except code displays and units; `Reference.display` removed |
| geography (2) | `Address` reduced to state, country and the US 3-digit ZIP (`000` for the 17 small areas) |
| dates (3), ages | dates reduced to the year (`_deidentify=date-shift`: shifted by the patient's offset instead); ages over 89 become "90 or older"; a birth date of someone 90 or older is removed |
| phone, fax, email, URLs (4-6, 14) | `ContactPoint` removed; `url`, and `uri` other than code systems and extension urls, removed |
| identifying numbers (7-13, 16, 18) | `Identifier`, `oid`, `uuid` and `id`-typed values removed (SSN, MRN, plan, account, licence, device, vehicle numbers) |
| biometrics, photos (15, 17) | `Attachment`, `Signature`, `base64Binary` removed |
| resource ids | replaced by keyed pseudonyms; references rewritten to them (`pseudonyms.py`) |

Narrative (`text`), `Annotation` notes and properties unknown to R4 are removed. Each resource is
tagged `meta.security` PSEUDED. The result is a new resource; the input is not changed.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fhir_server.bulk.deidentify.dates import shift, year_of, year_only
from fhir_server.bulk.deidentify.geography import generalise_address
from fhir_server.bulk.deidentify.pseudonyms import Pseudonymizer
from fhir_server.bulk.deidentify.shapes import Child, Shape, shapes

__all__ = ["Deidentifier", "MODES", "AGE_90_URL", "PSEUDED"]

MODES = ("safe-harbor", "date-shift")
AGE_90_URL = "https://fhir-server.dev/fhir/StructureDefinition/age-90-or-older"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
PSEUDED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "PSEUDED",
           "display": "pseudonymized"}
UCUM = "http://unitsofmeasure.org"

REMOVED_TYPES = frozenset({"HumanName", "ContactPoint", "Identifier", "Attachment", "Signature", "Narrative",
                           "Annotation", "xhtml", "base64Binary", "markdown", "url", "oid", "uuid", "id", "=string"})
KEPT_PRIMITIVES = frozenset({"code", "boolean", "integer", "decimal", "positiveInt", "unsignedInt", "time",
                             "canonical", "=uri"})
DATES = frozenset({"date", "dateTime", "instant"})
QUANTITIES = frozenset({"Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "MoneyQuantity"})
# (type of the object, property) whose `string` is terminology, not free text
KEPT_STRINGS = frozenset({("Coding", "display"), ("Coding", "version"),
                          *((quantity, "unit") for quantity in QUANTITIES)})
KEPT_URIS = frozenset({*((kind, "system") for kind in ("Coding", *QUANTITIES))})
YEARS_PER_UNIT = {"a": 1.0, "mo": 1 / 12, "wk": 7 / 365.25, "d": 1 / 365.25, "h": 1 / 8766, "min": 1 / 525960}


class Deidentifier:
    """`deidentify(resource)` -> the de-identified copy, or None when nothing can be kept.

    `reference_year`: the year ages are judged at (the export's transactionTime). `base_url`: this
    server's base, so absolute references to it are rewritten like relative ones (others are removed).
    """

    def __init__(self, pseudonyms: Pseudonymizer, *, mode: str = "safe-harbor", reference_year: int,
                 base_url: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown de-identification mode {mode!r}")
        self.pseudonyms = pseudonyms
        self.mode = mode
        self.reference_year = reference_year
        self.base_url = (base_url or "").rstrip("/")
        self.shapes = shapes()
        self._rule_cache: dict[Shape, dict[str, tuple[int, Any]]] = {}

    def __call__(self, resource: dict[str, Any]) -> dict[str, Any] | None:
        offset = 0
        if self.mode == "date-shift":
            res_type, res_id = str(resource.get("resourceType")), str(resource.get("id"))
            patient = res_id if res_type == "Patient" else _first_patient(resource)
            offset = self.pseudonyms.day_offset(patient or f"{res_type}/{res_id}")
        return self._resource(resource, offset, contained=False)

    # -- resources -----------------------------------------------------------------------------

    def _resource(self, resource: Any, offset: int, *, contained: bool) -> dict[str, Any] | None:
        if not isinstance(resource, dict):
            return None
        res_type = resource.get("resourceType")
        if not isinstance(res_type, str) or not self.shapes.is_resource_type(res_type):
            return None
        out: dict[str, Any] = {"resourceType": res_type}
        res_id = resource.get("id")
        if isinstance(res_id, str):
            out["id"] = res_id if contained else self.pseudonyms.pseudonym(res_type, res_id)
        out["meta"] = self._meta(resource.get("meta"), offset)
        shape: Shape = (res_type, "")
        for key, value in resource.items():
            if key in ("resourceType", "id", "meta"):
                continue
            if key == "contained":
                kept = [c for item in value if (c := self._resource(item, offset, contained=True))] \
                    if isinstance(value, list) else []
                if kept:
                    out["contained"] = kept
                continue
            self._put(out, shape, key, value, offset)
        if res_type == "Patient":
            self._birth_date(resource, out, offset)
        return out

    def _meta(self, meta: Any, offset: int) -> dict[str, Any]:
        meta = meta if isinstance(meta, dict) else {}
        out: dict[str, Any] = {}
        if isinstance(meta.get("versionId"), str):
            out["versionId"] = meta["versionId"]
        if isinstance(meta.get("lastUpdated"), str) and (moved := self._date(meta["lastUpdated"], "instant", offset)):
            out["lastUpdated"] = moved
        for key in ("profile",):
            if isinstance(meta.get(key), list):
                out[key] = [item for item in meta[key] if isinstance(item, str)]
        for key in ("tag", "security"):
            if isinstance(meta.get(key), list):
                codings = [self._object(("Coding", ""), item, offset) for item in meta[key]]
                out[key] = [coding for coding in codings if coding]
        out["security"] = [*(c for c in out.get("security", []) if c.get("code") != PSEUDED["code"]), PSEUDED]
        return out

    def _birth_date(self, source: dict[str, Any], out: dict[str, Any], offset: int) -> None:
        """Someone 90 or older at the reference date keeps no birth date at all, only the category."""
        birth = source.get("birthDate")
        year = year_of(birth) if isinstance(birth, str) else None
        if year is None or self.reference_year - year < 90:
            return
        out.pop("birthDate", None)
        out["_birthDate"] = {"extension": [{"url": DATA_ABSENT, "valueCode": "masked"}]}
        out.setdefault("extension", []).append({"url": AGE_90_URL, "valueBoolean": True})

    # -- properties ----------------------------------------------------------------------------

    def _put(self, out: dict[str, Any], shape: Shape, key: str, value: Any, offset: int) -> None:
        # what to do with each property of an object of a shape is decided once
        rules = self._rule_cache.get(shape)
        if rules is None:
            rules = self._rule_cache[shape] = {}
        rule = rules.get(key)
        if rule is None:
            rule = rules[key] = _decide(shape, key, self.shapes.child(shape, key))
        action, argument = rule
        if action == DROP:
            return
        if action == KEEP:
            if not isinstance(value, dict | list):
                out[key] = value
            elif isinstance(value, list):
                kept = [item for item in value if not isinstance(item, dict | list)]
                if kept:
                    out[key] = kept
            return
        if isinstance(value, list):
            kept = [v for item in value if (v := self._value(action, argument, item, offset)) is not None]
            if kept:
                out[key] = kept
            return
        kept_value = self._value(action, argument, value, offset)
        if kept_value is not None:
            out[key] = kept_value

    def _value(self, action: int, argument: Any, value: Any, offset: int) -> Any:
        if action == DATE:
            return self._date(value, argument, offset) if isinstance(value, str) else None
        if action == RESOURCE:
            return self._resource(value, offset, contained=True)
        if not isinstance(value, dict):
            return None
        if action == OBJECT:
            return self._object(argument, value, offset)
        if action == REFERENCE:
            return self._reference(value)
        if action == ADDRESS:
            return generalise_address(value)
        if action == AGE:
            return self._object(argument, _capped_age(value), offset)
        kept = self._object(argument, value, offset)  # EXTENSION
        if kept is not None and not any(k.startswith("value") or k == "extension" for k in kept):
            return None  # an extension whose value was removed says nothing (and would be invalid)
        return kept

    def _object(self, shape: Shape, value: Any, offset: int) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            return None
        out: dict[str, Any] = {}
        for key, item in value.items():
            self._put(out, shape, key, item, offset)
        return out or None

    def _date(self, text: str, kind: str, offset: int) -> str | None:
        if self.mode == "date-shift":
            return shift(text, offset)
        return year_only(text, kind)

    def _reference(self, value: dict[str, Any]) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        text = value.get("reference")
        if isinstance(text, str):
            if text.startswith("#"):
                out["reference"] = text
            elif (local := self._local(text)) is not None:
                out["reference"] = f"{local[0]}/{self.pseudonyms.pseudonym(*local)}"
        if isinstance(value.get("type"), str):
            out["type"] = value["type"]
        return out if "reference" in out else None

    def _local(self, text: str) -> tuple[str, str] | None:
        if "://" in text:
            if not self.base_url or not text.startswith(self.base_url + "/"):
                return None
            text = text[len(self.base_url) + 1:]
        parts = text.split("/_history/")[0].split("/")
        if len(parts) != 2 or not self.shapes.is_resource_type(parts[0]) or not parts[1]:
            return None
        return parts[0], parts[1]


DROP, KEEP, DATE, RESOURCE, OBJECT, REFERENCE, ADDRESS, AGE, EXTENSION = range(9)


def _decide(shape: Shape, key: str, child: Child | None) -> tuple[int, Any]:
    """The action for property `key` of an object of `shape` (and its argument)."""
    if child is None or child.type_code in REMOVED_TYPES:
        return DROP, None  # unknown to R4 here, or an identifying type
    kind = child.type_code
    if child.primitive:
        owner = shape[0] if shape[1] == "" else "BackboneElement"
        if kind in KEPT_PRIMITIVES or (kind == "string" and (owner, key) in KEPT_STRINGS) or \
                (kind == "uri" and (owner, key) in KEPT_URIS):
            return KEEP, None
        return (DATE, kind) if kind in DATES else (DROP, None)
    if kind == "Resource":
        return RESOURCE, None
    if child.shape is None:
        return DROP, None
    special = {"Reference": REFERENCE, "Address": ADDRESS, "Age": AGE, "Extension": EXTENSION}.get(kind, OBJECT)
    return special, child.shape


def _capped_age(age: dict[str, Any]) -> dict[str, Any]:
    """An Age over 89 years becomes `>= 90 a`."""
    value, code = age.get("value"), age.get("code") or age.get("unit")
    per_year = YEARS_PER_UNIT.get(code) if isinstance(code, str) else None
    if per_year is None or isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return age
    if float(value) * per_year <= 89:
        return age
    return {"value": 90, "comparator": ">=", "unit": "years", "system": UCUM, "code": "a"}


def _first_patient(resource: Any) -> str | None:
    """The id of the first Patient the resource refers to (the patient whose dates shift it)."""
    stack: list[Any] = [resource]
    found: Callable[[str], str | None] = _patient_id
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            reference = item.get("reference")
            if isinstance(reference, str) and (patient := found(reference)) is not None:
                return patient
            stack.extend(v for k, v in item.items() if k != "contained" and isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _patient_id(reference: str) -> str | None:
    parts = reference.split("/_history/")[0].split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1] else None
