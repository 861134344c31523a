"""The one error root of the HL7 v2 gateway, and the table 0357 codes each error carries.

    HL7Error(diagnostics, code=207, location=None)        AR  application internal error
     ├── ParseError                                        AR  the bytes are not a readable v2 message
     │    ├── EncodingCharactersError                      AR  MSH-1 / MSH-2 unusable (102 at MSH-2)
     │    └── BatchError                                   AR  FHS/BHS/BTS/FTS structure broken (100)
     ├── UnsupportedMessage                                AR  type, event, processing id or version (200-203)
     ├── ContentError                                      AE  readable, but a field is missing or wrong
     │    └── MappingError                                 AE  the v2 → FHIR mapping found the problem
     └── ApplicationError                                  AR  storage or FHIR service failed (retryable)

A warning (severity W, table 0516) is the same object not raised: a field the mapping had to drop
is reported in the ERR segments of an AA. Each error says what is wrong and where (segment, sequence, field, repetition, component): the
location becomes ERR-2 (v2.5+) or ERR-1 (before 2.5), the code ERR-3 / ERR-1.4 from HL7 table 0357
(HL7 v2.5.1 chapter 2, section 2.15.5 ERR and table 0357 "Message error condition codes"). Only
`hl7_gateway.ack` turns these into AE/AR (or CE/CR) acknowledgments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "TABLE_0357", "ErrorLocation", "HL7Error", "ParseError", "EncodingCharactersError", "BatchError",
    "UnsupportedMessage", "ContentError", "MappingError", "ApplicationError",
]

# HL7 table 0357 - Message error condition codes (v2.5.1 §2.15.5.3, extended with 104 in v2.7).
TABLE_0357: dict[int, str] = {
    0: "Message accepted",
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    104: "Value too long",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    206: "Application record locked",
    207: "Application internal error",
}

AckCode = Literal["AE", "AR"]
Severity = Literal["E", "W", "I", "F"]  # HL7 table 0516 (ERR-4): error, warning, information, fatal


@dataclass(frozen=True, slots=True)
class ErrorLocation:
    """Where an error is: the ERL data type (v2.5.1 §2.A.27) - segment ID, sequence, field, rep, comp, sub."""

    segment: str
    sequence: int = 1
    field: int | None = None
    repetition: int | None = None
    component: int | None = None
    subcomponent: int | None = None

    def __str__(self) -> str:
        text = self.segment if self.sequence == 1 else f"{self.segment}[{self.sequence}]"
        if self.field is not None:
            text += f"-{self.field}"
            if self.repetition not in (None, 1):
                text += f"({self.repetition})"
            if self.component is not None:
                text += f".{self.component}"
                if self.subcomponent is not None:
                    text += f".{self.subcomponent}"
        return text


class HL7Error(Exception):
    """Something the gateway answers with a negative acknowledgment instead of AA/CA."""

    ack_code: AckCode = "AR"
    default_code: int = 207
    retryable: bool = False

    def __init__(self, diagnostics: str, *, code: int | None = None, location: ErrorLocation | None = None,
                 severity: Severity = "E") -> None:
        self.code = code if code is not None else self.default_code
        if self.code not in TABLE_0357:
            raise ValueError(f"{self.code} is not an HL7 table 0357 code")
        self.diagnostics = diagnostics
        self.location = location
        self.severity: Severity = severity
        super().__init__(f"{location}: {diagnostics}" if location else diagnostics)

    @property
    def condition(self) -> str:
        """The table 0357 text for `code`."""
        return TABLE_0357[self.code]


class ParseError(HL7Error):
    """The bytes cannot be read as an HL7 v2 message (no MSH, broken structure): AR."""

    default_code = 100


class EncodingCharactersError(ParseError):
    """MSH-1/MSH-2 do not give five distinct, usable separator characters: AR."""

    default_code = 102


class BatchError(ParseError):
    """The FHS/BHS/BTS/FTS envelope is broken, e.g. a BHS inside a message: AR."""

    default_code = 100


class UnsupportedMessage(HL7Error):
    """A readable message the gateway does not take: message type, event, processing id, version."""

    default_code = 200


class ContentError(HL7Error):
    """A readable, supported message whose content is wrong (missing or invalid field): AE."""

    ack_code: AckCode = "AE"
    default_code = 101


class MappingError(ContentError):
    """The v2 → FHIR mapping cannot build valid resources from a segment or field: AE."""

    default_code = 102


class ApplicationError(HL7Error):
    """The inbox or the FHIR service failed; nothing is wrong with the message, so it may be resent."""

    default_code = 207
    retryable = True
