"""OBX-5 by OBX-2 value type → Observation.value[x] (v2-to-FHIR IG: OBX[Observation], OBX-5 rows).

    NM → valueQuantity (OBX-6 units, UCUM where recognisable)     ST, TX, FT → valueString
    CE, CWE, CNE, CF → valueCodeableConcept   IS, ID → valueCodeableConcept (code only)
    SN → valueQuantity (comparator), valueRange (1^-^3), valueRatio (1^:^3, 1^/^3), valueString (+, <>)
    DT, DTM, TS → valueDateTime    TM → valueTime    DR → valuePeriod    NR → valueRange    VR → valueString
    ED (Base64, A, Hex) and RP → the IG's valueAttachment extension (R4 has no valueAttachment)

Numbers become `Decimal`, never float. A value that does not fit its declared type is a data type
error (0357 code 102) at OBX-5; an OBX-2 outside HL7 table 0125 is code 103 at OBX-2.
"""

from __future__ import annotations

import base64
import binascii
import re
from decimal import Decimal
from typing import Any

from hl7_gateway.errors import ErrorLocation, MappingError
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.datatypes import codeable_concept, to_datetime, to_decimal, to_time
from hl7_gateway.mapping.units import Unit, unit_from_cwe
from hl7_gateway.message import Repetition, Segment

__all__ = ["TABLE_0125", "TEXT_TYPES", "observation_values", "ATTACHMENT_EXTENSION"]

# HL7 table 0125 Value type (v2.5.1; NR and VR as senders use them).
TABLE_0125 = {
    "AD", "CE", "CF", "CK", "CN", "CNE", "CP", "CWE", "CX", "DR", "DT", "DTM", "ED", "FT", "ID", "IS", "MA", "MO",
    "NA", "NM", "NR", "PN", "RP", "SN", "ST", "TM", "TN", "TS", "TX", "VR", "XAD", "XCN", "XON", "XPN", "XTN",
}
TEXT_TYPES = {"ST", "TX", "FT"}
ATTACHMENT_EXTENSION = "https://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.valueAttachment"
_COMPARATORS = ("<=", ">=", "<", ">")
_LEADING_COMPARATOR = re.compile(r"\s*(<=|>=|<>|<|>|=)?\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*")
_MIME = {
    "PDF": "application/pdf", "JPEG": "image/jpeg", "JPG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
    "TIFF": "image/tiff", "RTF": "application/rtf", "HTML": "text/html", "XML": "application/xml",
    "PLAIN": "text/plain", "DICOM": "application/dicom", "OCTET-STREAM": "application/octet-stream",
}


def observation_values(obx: Segment, ctx: MappingContext) -> list[dict[str, Any]]:
    """One `{"valueX": …}` (or `{"extension": […]}`) per OBX-5 repetition; text types give one joined value."""
    value_type = obx.value(2).upper()
    reps = obx.repetitions(5)
    if value_type and value_type not in TABLE_0125:
        raise MappingError(f"value type {value_type!r} is not in HL7 table 0125", code=103,
                           location=obx.location(2, 1))
    if not reps:
        return []
    if not value_type:
        raise MappingError("OBX-2 value type is required when OBX-5 is valued", code=101, location=obx.location(2, 1))
    seps = ctx.message.separators
    if value_type in TEXT_TYPES:
        return [{"valueString": "\n".join(_text(rep, seps.component, seps.subcomponent) for rep in reps)}]
    units = unit_from_cwe(obx.field(6))
    return [_one(value_type, rep, units, obx.location(5, repetition=index), ctx)
            for index, rep in enumerate(reps, start=1)]


def _text(rep: Repetition, component: str, subcomponent: str) -> str:
    return component.join(subcomponent.join(subs) for subs in rep.components).rstrip(component)


def _number(text: str, location: ErrorLocation) -> Decimal:
    try:
        return to_decimal(text)
    except ValueError as exc:
        raise MappingError(str(exc), code=102, location=location) from exc


def _quantity(value: Decimal, units: Unit | None, comparator: str = "") -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if comparator in _COMPARATORS:
        quantity["comparator"] = comparator
    if units is not None:
        quantity.update(units.quantity_fields())
    return quantity


def _one(value_type: str, rep: Repetition, units: Unit | None, location: ErrorLocation,
         ctx: MappingContext) -> dict[str, Any]:
    seps = ctx.message.separators
    if value_type == "NM":
        text = rep.text
        match = _LEADING_COMPARATOR.fullmatch(text)
        if match and match.group(1) and match.group(1) not in ("=", "<>"):
            ctx.warn(f"NM value {text!r} carries a comparator; SN is the type for that", location)
            return {"valueQuantity": _quantity(_number(match.group(2), location), units, match.group(1))}
        return {"valueQuantity": _quantity(_number(text, location), units)}
    if value_type in ("CE", "CWE", "CNE", "CF"):
        concept = codeable_concept(rep, location)
        return {"valueCodeableConcept": concept} if concept else {}
    if value_type in ("IS", "ID"):
        return {"valueCodeableConcept": {"coding": [{"code": " ".join(rep.text.split())}]}} if rep.text.strip() else {}
    if value_type == "SN":
        return _structured_numeric(rep, units, location, ctx)
    if value_type in ("DT", "DTM", "TS"):
        return {"valueDateTime": _time(lambda: to_datetime(rep.text, ctx.tz), location)}
    if value_type == "TM":
        return {"valueTime": _time(lambda: to_time(rep.text), location)}
    if value_type == "DR":
        start = rep.component(1, 1)
        end = rep.component(2, 1)
        span = {k: _time(lambda t=t: to_datetime(t, ctx.tz), location) for k, t in (("start", start), ("end", end)) if t}
        return {"valuePeriod": span} if span else {}
    if value_type == "NR":
        bounds = {k: {"value": _number(t, location)} for k, t in (("low", rep.component(1)), ("high", rep.component(2)))
                  if t}
        return {"valueRange": bounds} if bounds else {}
    if value_type == "VR":
        return {"valueString": "-".join(p for p in (rep.component(1), rep.component(2)) if p)}
    if value_type in ("ED", "RP"):
        return {"extension": [{"url": ATTACHMENT_EXTENSION, "valueAttachment": _attachment(value_type, rep, location)}]}
    text = " ".join(p for p in _text(rep, seps.component, seps.subcomponent).replace(seps.component, " ").split())
    return {"valueString": text} if text else {}


def _time(convert: Any, location: ErrorLocation) -> str:
    try:
        return str(convert())
    except ValueError as exc:
        raise MappingError(str(exc), code=102, location=location) from exc


def _structured_numeric(rep: Repetition, units: Unit | None, location: ErrorLocation,
                        ctx: MappingContext) -> dict[str, Any]:
    """SN = comparator ^ num1 ^ separator/suffix ^ num2 (IG: SN[Quantity], SN[Range], SN[Ratio])."""
    comparator, first, separator, second = (rep.component(n).strip() for n in (1, 2, 3, 4))
    if not first and not separator and comparator:  # '<0.10' sent without component separators
        match = _LEADING_COMPARATOR.fullmatch(comparator)
        if match is None:
            raise MappingError(f"SN value {comparator!r} is not comparator^number", code=102, location=location)
        ctx.warn(f"SN value {comparator!r} sent without component separators; read as {match.group(1) or ''}^"
                 f"{match.group(2)}", location)
        comparator, first = match.group(1) or "", match.group(2)
    original = " ".join(p for p in (comparator, first, separator, second) if p)
    extension = [{"url": "http://hl7.org/fhir/StructureDefinition/originalText", "valueString": original}]
    if comparator == "<>" or separator == "+":
        suffix = f" {units.text}" if units is not None and units.text else ""
        return {"valueString": original + suffix}
    if separator in (":", "/"):
        numerator, denominator = _quantity(_number(first, location), units), _quantity(_number(second, location), units)
        return {"valueRatio": {"extension": extension, "numerator": numerator, "denominator": denominator}}
    if separator == "-":
        low, high = _quantity(_number(first, location), units), _quantity(_number(second, location), units)
        return {"valueRange": {"extension": extension, "low": low, "high": high}}
    if not first:
        raise MappingError("SN value has no number (SN.2)", code=102, location=location)
    quantity = _quantity(_number(first, location), units, comparator)
    if separator or second:
        quantity["extension"] = extension
    return {"valueQuantity": quantity}


def _attachment(value_type: str, rep: Repetition, location: ErrorLocation) -> dict[str, Any]:
    """ED (source ^ type ^ subtype ^ encoding ^ data) or RP (pointer ^ application ^ type ^ subtype)."""
    if value_type == "RP":
        pointer = rep.component(1).strip()
        if not pointer:
            raise MappingError("RP value has no pointer (RP.1)", code=101, location=location)
        attachment: dict[str, Any] = {"url": pointer}
        mime = _MIME.get(rep.component(4).upper())
        if mime:
            attachment["contentType"] = mime
        return attachment
    encoding, data = rep.component(4).strip().upper(), "".join(rep.component(5).split())
    if not data:
        raise MappingError("ED value has no data (ED.5)", code=101, location=location)
    try:
        if encoding in ("BASE64", "B64"):
            raw = base64.b64decode(data, validate=True)
        elif encoding == "HEX":
            raw = bytes.fromhex(data)
        elif encoding in ("A", ""):
            raw = rep.component(5).encode("utf-8")
        else:
            raise MappingError(f"ED encoding {encoding!r} is not A, Hex or Base64 (table 0299)", code=103,
                               location=ErrorLocation(location.segment, location.sequence, location.field,
                                                      location.repetition, 4))
    except (binascii.Error, ValueError) as exc:
        raise MappingError(f"ED data is not valid {encoding.title()}: {exc}", code=102,
                           location=ErrorLocation(location.segment, location.sequence, location.field,
                                                  location.repetition, 5)) from exc
    subtype = rep.component(3).strip().upper()
    attachment = {"contentType": _MIME.get(subtype, "application/octet-stream"),
                  "data": base64.b64encode(raw).decode("ascii")}
    return attachment
