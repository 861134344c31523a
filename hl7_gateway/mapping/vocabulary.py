"""HL7 v2 tables → FHIR codes, from the v2-to-FHIR IG's coding system maps.

Each table cites the IG concept map it follows (HL7/v2-to-fhir `mappings/codesystems/*.csv`, shown
in the IG under "Coding System Maps"). Where the IG leaves a v2 code without a FHIR target, the
choice made here is noted beside it.
"""

from __future__ import annotations

import re

__all__ = [
    "V2_TABLE", "coding_system_uri", "is_valid_coding_system_name", "GENDER", "OBSERVATION_STATUS",
    "REPORT_STATUS", "REPORT_STATUS_ERRORS", "INTERPRETATION", "V3_INTERPRETATION", "ENCOUNTER_CLASS",
    "ENCOUNTER_STATUS", "V3_ACT_CODE", "NAME_USE", "TELECOM_USE", "TELECOM_SYSTEM", "ADDRESS_USE",
    "ADDRESS_TYPE", "ORDER_STATUS", "ORDER_CONTROL_STATUS", "DISCHARGE_DISPOSITION", "DATA_ABSENT",
    "ADT_EVENTS",
]

V2_TABLE = "http://terminology.hl7.org/CodeSystem/v2-{:0>4}"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

# HL7 table 0396 (coding system) names → FHIR code system URIs (FHIR R4 terminology "External code systems").
_CODING_SYSTEMS: dict[str, str] = {
    "LN": "http://loinc.org",
    "LOINC": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "SNOMED": "http://snomed.info/sct",
    "SNOMEDCT": "http://snomed.info/sct",
    "SNM3": "http://snomed.info/sct",
    "UCUM": "http://unitsofmeasure.org",
    "I9": "http://hl7.org/fhir/sid/icd-9-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "I9CDX": "http://hl7.org/fhir/sid/icd-9-cm",
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "C4": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "NCI": "http://ncimeta.nci.nih.gov",
    "CDCREC": "urn:oid:2.16.840.1.113883.6.238",
    "ISO3166_1": "urn:iso:std:iso:3166",
    "ISO3166_2": "urn:iso:std:iso:3166:-2",
    "ISO639": "urn:ietf:bcp:47",
    "NPI": "http://hl7.org/fhir/sid/us-npi",
    "HGNC": "http://www.genenames.org",
    "NUBC": "http://www.nubc.org/patient-discharge",
}
_LOCAL = {"L", "LOCAL", "LCL", "99LOCAL"}
_TABLE_NAME = re.compile(r"HL7(\d{4})|HL7-?(\d{4})|(\d{4})")
_NAME = re.compile(r"[A-Za-z0-9_.+\-]+")


def is_valid_coding_system_name(name: str) -> bool:
    """A CWE.3 coding system name is one token (table 0396 values, 99zzz local names, OIDs)."""
    return _NAME.fullmatch(name) is not None


def coding_system_uri(name: str) -> str | None:
    """The FHIR system for a table 0396 name; None for local (L, 99zzz) and unknown names."""
    key = name.strip().upper()
    if not key or key in _LOCAL or key.startswith("99"):
        return None
    if key in _CODING_SYSTEMS:
        return _CODING_SYSTEMS[key]
    match = _TABLE_NAME.fullmatch(key)
    if match:
        return V2_TABLE.format(next(g for g in match.groups() if g))
    if re.fullmatch(r"[0-2](\.(0|[1-9]\d*))+", name.strip()):
        return f"urn:oid:{name.strip()}"
    return None


# Table 0001 Administrative Sex → administrative-gender (IG: AdministrativeSex).
GENDER = {"F": "female", "M": "male", "O": "other", "U": "unknown", "A": "other", "N": "other"}

# Table 0085 Observation Result Status → observation-status (IG: ObservationResultStatusCodesInterpretation).
# The IG maps A, C, D, F, P, W, X; the rest are this gateway's choices:
#   B appended (final, more information added) → amended;  I specimen in lab, results pending → registered;
#   N not asked → final (an affirmative statement; dataAbsentReason not-asked);
#   O order detail only, no result → registered;  R entered, not verified → preliminary;
#   S partial → preliminary;  U changed to final without retransmitting results → final;
#   V verified (final, reviewed) → final.
OBSERVATION_STATUS = {
    "A": "amended", "B": "amended", "C": "corrected", "D": "entered-in-error", "F": "final",
    "I": "registered", "N": "final", "O": "registered", "P": "preliminary", "R": "preliminary",
    "S": "preliminary", "U": "final", "V": "final", "W": "entered-in-error", "X": "cancelled",
}

# Table 0123 Result Status → diagnostic-report-status (IG: ResultStatus[Non-Queries]). The IG leaves
# A (some results available) → partial, M (corrected, not final) → partial and N (procedure
# completed, results pending) → registered to the implementer; Y and Z are errors ("IF NOT MAPPED ERROR").
REPORT_STATUS = {
    "O": "registered", "I": "registered", "S": "registered", "A": "partial", "P": "preliminary",
    "C": "corrected", "R": "partial", "F": "final", "X": "cancelled", "M": "partial", "N": "registered",
}
REPORT_STATUS_ERRORS = {"Y": "no order on record for this test", "Z": "no record of this patient"}

# Table 0078 Interpretation Codes → v3 ObservationInterpretation (IG: InterpretationCodes); the codes
# the IG leaves unmapped (AC, HM, QCF, TOX, OBX) keep their v2-0078 coding.
INTERPRETATION = {
    "<": "<", ">": ">", "A": "A", "AA": "AA", "B": "B", "CAR": "CAR", "D": "D", "DET": "DET", "E": "E",
    "EX": "EX", "EXP": "EXP", "H": "H", "HH": "HH", "HU": "HU", "I": "I", "IE": "IE", "IND": "IND",
    "L": "L", "LL": "LL", "LU": "LU", "MS": "MS", "N": "N", "NCL": "NCL", "ND": "ND", "NEG": "NEG",
    "NR": "NR", "NS": "NS", "POS": "POS", "R": "R", "RR": "RR", "S": "S", "SDD": "SDD", "SYN-R": "SYN-R",
    "SYN-S": "SYN-S", "U": "U", "VS": "VS", "UNE": "UNE", "W": "W", "WR": "WR",
}

# Table 0004 Patient Class → Encounter.class (v3 ActCode or v2-0004) and Encounter.status
# (IG: PatientClass[EncounterClass], PatientClass[EncounterStatus]).
ENCOUNTER_CLASS = {
    "E": (V3_ACT_CODE, "EMER", "emergency"), "I": (V3_ACT_CODE, "IMP", "inpatient encounter"),
    "O": (V3_ACT_CODE, "AMB", "ambulatory"), "P": (V3_ACT_CODE, "PRENC", "pre-admission"),
    "R": (V2_TABLE.format(4), "R", "Recurring patient"), "B": (V2_TABLE.format(4), "B", "Obstetrics"),
    "C": (V2_TABLE.format(4), "C", "Commercial Account"), "N": (V2_TABLE.format(4), "N", "Not Applicable"),
    "U": (V2_TABLE.format(4), "U", "Unknown"),
}
ENCOUNTER_STATUS = {"P": "planned", "U": "unknown"}  # every other class: in-progress

# Table 0112 Discharge Disposition (user-defined; UB-04 values in the US) → discharge-disposition.
# The IG lists only the FHIR targets; this is the usual UB-04 reading of the common codes.
DISCHARGE_DISPOSITION = {
    "01": "home", "06": "alt-home", "02": "other-hcf", "05": "other-hcf", "43": "other-hcf", "50": "hosp",
    "51": "hosp", "63": "long", "07": "aadvice", "20": "exp", "40": "exp", "41": "exp", "42": "exp",
    "65": "psy", "62": "rehab", "03": "snf", "61": "snf", "64": "snf",
}

# Table 0200 Name Type → name-use (IG: NameType).
NAME_USE = {"BAD": "old", "D": "usual", "L": "official", "M": "maiden", "MSK": "anonymous", "N": "nickname",
            "NAV": "temp", "R": "official", "TEMP": "temp"}
# Tables 0201/0202 → contact-point-use / contact-point-system (IG: TelecommunicationUseCode/EquipmentType).
TELECOM_USE = {"PRN": "home", "WPN": "work", "PRS": "mobile", "ORN": "home", "VHN": "home"}
TELECOM_SYSTEM = {"PH": "phone", "FX": "fax", "MD": "other", "CP": "phone", "SAT": "other", "BP": "pager",
                  "INTERNET": "email", "X.400": "email", "TDD": "other", "TTY": "other"}
# Table 0190 Address Type → address-use / address-type (IG: AddressType[Use], AddressType[Type]).
ADDRESS_USE = {"BA": "old", "BI": "billing", "C": "temp", "B": "work", "H": "home", "O": "work"}
ADDRESS_TYPE = {"M": "postal", "SH": "postal"}

# Table 0038 Order Status (IG: OrderStatus) and table 0119 Order Control (IG: OrderControlCode) → request-status.
ORDER_STATUS = {"CA": "revoked", "CM": "completed", "DC": "revoked", "ER": "entered-in-error", "HD": "on-hold",
                "IP": "active", "RP": "revoked", "SC": "active", "A": "active"}
ORDER_CONTROL_STATUS = {
    "AF": "active", "CA": "active", "CR": "revoked", "DC": "revoked", "DF": "revoked", "DR": "revoked",
    "FU": "completed", "HD": "active", "HR": "on-hold", "NW": "active", "OC": "revoked", "OD": "revoked",
    "OH": "on-hold", "OK": "active", "PR": "active", "PY": "active", "RL": "active", "RO": "active",
    "RQ": "active", "SC": "active",
}

# ADT trigger events this gateway maps (HL7 v2.5.1 chapter 3) → Encounter.status (IG: Event[EncounterStatus]).
# The IG gives A08 "unknown"; since an A08 replaces the whole Encounter, its status is read from PV1
# instead (PV1-45 valued → finished, class P → planned, else in-progress).
ADT_EVENTS: dict[str, str | None] = {"A01": "in-progress", "A03": "finished", "A04": "planned", "A08": None}
