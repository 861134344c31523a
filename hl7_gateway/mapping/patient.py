"""PID → Patient (v2-to-FHIR IG: PID[Patient], with the CX, XPN, XAD and XTN data type maps).

Identifiers come from PID-3 (and PID-2/PID-4 of older versions, PID-19 SSN); the one used to find
the same patient again - the *match identifier* - is the first PID-3 of type MR (else PI, PT, PN,
else the first PID-3, else PID-2/PID-4). A PID without any identifier cannot be matched and is
refused (table 0357 code 101 at PID-3): a result filed to a patient nobody can find is worse than a
resend. Fields that are wrong but not needed to identify the patient (a date of birth that is not a
date, an unknown sex code) are dropped with a warning.
"""

from __future__ import annotations

from typing import Any

from hl7_gateway.errors import MappingError
from hl7_gateway.mapping import vocabulary as vocab
from hl7_gateway.mapping.context import MappingContext
from hl7_gateway.mapping.datatypes import address, codeable_concept, contact_point, human_name
from hl7_gateway.message import Segment

__all__ = ["patient_from_pid", "MATCH_TYPES"]

MATCH_TYPES = ("MR", "PI", "PT", "PN", "MRN")
_SSN = "http://hl7.org/fhir/sid/us-ssn"


def patient_from_pid(pid: Segment, ctx: MappingContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Patient resource and its match identifier."""
    patient: dict[str, Any] = {"resourceType": "Patient"}
    identifiers: list[dict[str, Any]] = []
    match: dict[str, Any] | None = None
    for number in (3, 2, 4):
        for index, rep in enumerate(pid.repetitions(number), start=1):
            ident = ctx.identifier_from_cx(rep, pid.location(number, repetition=index))
            if ident is None:
                continue
            identifiers.append(ident)
            kind = rep.component(5).strip().upper()
            if match is None and number == 3 and kind in MATCH_TYPES:
                match = ident
    if match is None:
        match = next((i for i in identifiers), None)
    if match is None:
        raise MappingError("PID-3 patient identifier list holds no identifier: the patient cannot be matched",
                           code=101, location=pid.location(3, 1))
    if pid.value(19):
        identifiers.append({"type": {"coding": [{"system": vocab.V2_TABLE.format(203), "code": "SS"}]},
                            "system": _SSN, "value": pid.value(19)})
    patient["identifier"] = identifiers
    names = [n for n in (human_name(rep, tz=ctx.tz) for rep in (*pid.repetitions(5), *pid.repetitions(9))) if n]
    if names:
        patient["name"] = names
    telecom = [t for t in (*(contact_point(r, "home") for r in pid.repetitions(13)),
                           *(contact_point(r, "work") for r in pid.repetitions(14))) if t]
    if telecom:
        patient["telecom"] = telecom
    _gender(pid, patient, ctx)
    _birth(pid, patient, ctx)
    _deceased(pid, patient, ctx)
    addresses = [a for a in (address(rep, ctx.tz) for rep in pid.repetitions(11)) if a]
    if addresses:
        patient["address"] = addresses
    marital = _concept(pid, 16, ctx, vocab.V2_TABLE.format(2))
    if marital:
        patient["maritalStatus"] = marital
    multiple = pid.value(24).upper()
    if pid.value(25).isdigit() and int(pid.value(25)) > 0:
        patient["multipleBirthInteger"] = int(pid.value(25))
    elif multiple in ("Y", "N"):
        patient["multipleBirthBoolean"] = multiple == "Y"
    language = _concept(pid, 15, ctx, None)
    if language:
        patient["communication"] = [{"language": language}]
    mother = pid.field(6)
    if mother.component(1).strip():
        patient.setdefault("extension", []).append({
            "url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
            "valueString": mother.component(1).strip()})
    return patient, match


def _concept(pid: Segment, number: int, ctx: MappingContext, default_system: str | None) -> dict[str, Any] | None:
    rep = pid.field(number)
    if rep.is_empty:
        return None
    try:
        concept = codeable_concept(rep, pid.location(number, 1))
    except MappingError as exc:
        ctx.warn(f"{exc.diagnostics}; left out", pid.location(number, 1), code=exc.code)
        return None
    if concept and default_system:
        for coding in concept.get("coding", []):
            coding.setdefault("system", default_system)
    return concept


def _gender(pid: Segment, patient: dict[str, Any], ctx: MappingContext) -> None:
    sex = pid.value(8).upper()
    if not sex:
        return
    if sex in vocab.GENDER:
        patient["gender"] = vocab.GENDER[sex]
    else:
        ctx.warn(f"administrative sex {sex!r} is not in HL7 table 0001; left out", pid.location(8, 1), code=103)


def _birth(pid: Segment, patient: dict[str, Any], ctx: MappingContext) -> None:
    text = pid.value(7)
    if not text:
        return
    birth_date = ctx.date(text, pid.location(7, 1))
    if birth_date is None:
        return
    patient["birthDate"] = birth_date
    if len(text) > 8:  # IG: PID-7 longer than a date → patient-birthTime extension
        moment = ctx.datetime(text, pid.location(7, 1))
        if moment and "T" in moment:
            patient["_birthDate"] = {"extension": [{
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": moment}]}


def _deceased(pid: Segment, patient: dict[str, Any], ctx: MappingContext) -> None:
    when = ctx.datetime(pid.value(29), pid.location(29, 1)) if pid.value(29) else None
    if when:
        patient["deceasedDateTime"] = when
    elif pid.value(30).upper() in ("Y", "N"):
        patient["deceasedBoolean"] = pid.value(30).upper() == "Y"
