"""HL7 v2 data types → FHIR data types (v2-to-FHIR IG, "Data Type Maps").

    DTM/TS/DT → date, dateTime, instant        TM → time          NM → decimal (Decimal, never float)
    CWE/CE/CNE → CodeableConcept, Coding        CX/EI → Identifier  XPN → HumanName   XAD → Address
    XTN → ContactPoint                          DR → Period         HD → Identifier.system

Values that cannot be read raise `ValueError` (times, numbers) or `MappingError` (coded values with an
unusable coding system); each caller decides whether the field is essential (AE) or may be dropped
with a warning.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from hl7_gateway.errors import ErrorLocation, MappingError
from hl7_gateway.mapping import vocabulary as vocab
from hl7_gateway.message import Repetition

__all__ = [
    "to_date", "to_datetime", "to_instant", "to_time", "to_decimal", "codeable_concept", "coding_list",
    "human_name", "address", "contact_point", "period",
]

_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?\s*([+-]\d{4}|Z)?")
_TM = re.compile(r"(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


def _parse_dtm(text: str) -> tuple[list[str], str, str]:
    match = _DTM.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])")
    parts = [g for g in match.groups()[:6] if g is not None]
    fraction, zone = match.group(7) or "", match.group(8) or ""
    numbers = [int(p) for p in parts] + [1] * (3 - min(len(parts), 3)) + [0] * (6 - max(len(parts), 3))
    try:
        datetime(numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5])
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real date/time: {exc}") from exc
    return parts, fraction, zone


def to_date(text: str) -> str:
    """DT/DTM → FHIR date (year, year-month or full date; any time part is dropped)."""
    parts, _, _ = _parse_dtm(text)
    return "-".join(parts[:3])


def _offset(zone: str, parts: list[str], tz: tzinfo) -> str:
    if zone == "Z":
        return "Z"
    if zone:
        return f"{zone[:3]}:{zone[3:]}"
    year, month, day, hour = (int(p) for p in parts[:4])
    moment = datetime(year, month, day, hour, int(parts[4]) if len(parts) > 4 else 0, tzinfo=tz)
    minutes = int((moment.utcoffset() or timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# a message repeats its times (each OBX's observation time, the order's): each is read once
@lru_cache(maxsize=1024)
def to_datetime(text: str, tz: tzinfo) -> str:
    """DTM/TS → FHIR dateTime. A time without offset is read in `tz` (FHIR requires a zone with a time)."""
    parts, fraction, zone = _parse_dtm(text)
    day = "-".join(parts[:3])
    if len(parts) <= 3:
        return day
    hour, minute, second = parts[3], parts[4] if len(parts) > 4 else "00", parts[5] if len(parts) > 5 else "00"
    return f"{day}T{hour}:{minute}:{second}{fraction if len(parts) > 5 else ''}{_offset(zone, parts, tz)}"


@lru_cache(maxsize=1024)
def to_instant(text: str, tz: tzinfo) -> str | None:
    """DTM → FHIR instant, which needs at least the hour; None for a date alone."""
    parts, _, _ = _parse_dtm(text)
    return to_datetime(text, tz) if len(parts) > 3 else None


def to_time(text: str) -> str:
    """TM → FHIR time (hh:mm:ss[.s]); the offset, which FHIR time cannot carry, is dropped."""
    match = _TM.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an HL7 time (HH[MM[SS[.S]]][+/-ZZZZ])")
    hour, minute, second, fraction = match.group(1), match.group(2) or "00", match.group(3) or "00", match.group(4)
    if int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        raise ValueError(f"{text!r} is not a real time")
    fraction = fraction.rstrip("0").rstrip(".") if fraction else ""
    return f"{hour}:{minute}:{second}{fraction}"


def to_decimal(text: str) -> Decimal:
    """NM → Decimal, keeping the sender's digits ('7.10' stays 7.10)."""
    cleaned = text.strip()
    if _NUMBER.fullmatch(cleaned) is None:
        raise ValueError(f"{text!r} is not an HL7 number (NM)")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid numbers
        raise ValueError(f"{text!r} is not a number") from exc
    return value + Decimal(0) if value == 0 else value  # normalises '-0'


def _code(text: str) -> str:
    return " ".join(text.split())


def coding_list(rep: Repetition, location: ErrorLocation) -> list[dict[str, Any]]:
    """The codings of a CWE/CE/CNE: up to three triplets (1-3, 4-6, 10-12), each with its system."""
    codings: list[dict[str, Any]] = []
    for code_at, text_at, system_at, version_at in ((1, 2, 3, 7), (4, 5, 6, 8), (10, 11, 12, 13)):
        code, display = rep.component(code_at).strip(), rep.component(text_at)
        system_name = rep.component(system_at).strip()
        if not code:
            continue
        coding: dict[str, Any] = {}
        if system_name:
            if not vocab.is_valid_coding_system_name(system_name):
                raise MappingError(f"coding system {system_name!r} is not a table 0396 name", code=103,
                                   location=_component(location, system_at))
            uri = vocab.coding_system_uri(system_name)
            if uri is None and code_at == 1 and rep.component(14).strip():
                uri = vocab.coding_system_uri(rep.component(14).strip())
            if uri:
                coding["system"] = uri
        if rep.component(version_at).strip():
            coding["version"] = rep.component(version_at).strip()
        coding["code"] = _code(code)
        if display.strip():
            coding["display"] = display.strip()
        codings.append(coding)
    return codings


def codeable_concept(rep: Repetition, location: ErrorLocation) -> dict[str, Any] | None:
    """CWE/CE/CNE → CodeableConcept; text from CWE.9 (original text), else the display of an uncoded entry."""
    codings = coding_list(rep, location)
    concept: dict[str, Any] = {}
    if codings:
        concept["coding"] = codings
    text = rep.component(9).strip() or ("" if codings else (rep.component(2) or rep.component(5)).strip())
    if text:
        concept["text"] = text
    return concept or None


def _component(location: ErrorLocation, component: int) -> ErrorLocation:
    return ErrorLocation(location.segment, location.sequence, location.field, location.repetition, component)


def period(start: str, end: str, tz: tzinfo) -> dict[str, str] | None:
    """DR (or two DTM fields) → Period; unreadable bounds raise ValueError."""
    result: dict[str, str] = {}
    if start:
        result["start"] = to_datetime(start, tz)
    if end:
        result["end"] = to_datetime(end, tz)
    return result or None


def human_name(rep: Repetition, *, first: int = 1, tz: tzinfo) -> dict[str, Any] | None:
    """XPN (first=1) or the name part of XCN (first=2) → HumanName."""
    family = rep.component(first).strip()
    given = [g for g in (rep.component(first + 1).strip(), rep.component(first + 2).strip()) if g]
    suffix = [s for s in (rep.component(first + 3).strip(), rep.component(first + 5).strip()) if s]
    prefix = [p for p in (rep.component(first + 4).strip(),) if p]
    name: dict[str, Any] = {}
    use = vocab.NAME_USE.get(rep.component(first + 6).strip().upper()) if first == 1 else \
        vocab.NAME_USE.get(rep.component(10).strip().upper())
    if use:
        name["use"] = use
    if family:
        name["family"] = family
    if given:
        name["given"] = given
    if prefix:
        name["prefix"] = prefix
    if suffix:
        name["suffix"] = suffix
    if first == 1:
        try:
            span = period(rep.component(12), rep.component(13), tz) or period(
                rep.component(10, 1), rep.component(10, 2), tz)
        except ValueError:
            span = None
        if span:
            name["period"] = span
    if not family and not given:
        return None
    return name


def address(rep: Repetition, tz: tzinfo) -> dict[str, Any] | None:
    """XAD → Address (IG: XAD[Address]); XAD.7 address type → use / type (table 0190)."""
    lines = [line for line in (rep.component(1, 1).strip(), rep.component(2).strip()) if line]
    result: dict[str, Any] = {}
    kind = rep.component(7).strip().upper()
    if kind in vocab.ADDRESS_USE:
        result["use"] = vocab.ADDRESS_USE[kind]
    if kind in vocab.ADDRESS_TYPE:
        result["type"] = vocab.ADDRESS_TYPE[kind]
    if lines:
        result["line"] = lines
    for key, number in (("city", 3), ("district", 9), ("state", 4), ("postalCode", 5), ("country", 6)):
        value = rep.component(number).strip()
        if value:
            result[key] = value
    try:
        span = period(rep.component(13), rep.component(14), tz) or period(
            rep.component(12, 1), rep.component(12, 2), tz)
    except ValueError:
        span = None
    if not set(result) - {"use", "type"}:
        return None
    if span:
        result["period"] = span
    return result


def contact_point(rep: Repetition, default_use: str | None = None) -> dict[str, Any] | None:
    """XTN → ContactPoint (IG: XTN[ContactPoint]): e-mail from XTN.4, else the number from XTN.5-8 or XTN.1."""
    equipment = rep.component(3).strip()
    result: dict[str, Any] = {}
    if equipment.upper() in ("INTERNET", "X.400") or (not equipment and rep.component(4) and not rep.component(1)):
        value = rep.component(4).strip()
        system = "email"
    else:
        country, area, local, extension = (rep.component(n).strip() for n in (5, 6, 7, 8))
        if local:
            value = " ".join(p for p in (f"+{country}" if country else "", area, local) if p)
            if extension:
                value += f" X{extension}"
        else:
            value = rep.component(12).strip() or rep.component(1).strip()
        system = vocab.TELECOM_SYSTEM.get(equipment.upper(), "phone")
    if not value:
        return None
    result["system"] = system
    result["value"] = value
    use = vocab.TELECOM_USE.get(rep.component(2).strip().upper()) or default_use
    if equipment.upper() == "CP":
        use = "mobile"
    if use:
        result["use"] = use
    return result
