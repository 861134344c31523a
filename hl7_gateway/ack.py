"""Acknowledgments: the one place an outcome or an `HL7Error` becomes AA/AE/AR or CA/CE/CR.

HL7 v2.5.1 §2.9.2 (original mode) and §2.9.3 (enhanced mode), table 0008 (acknowledgment codes):

* original mode: AA after the message was processed; AE when its content is wrong (ERR says where
  and why); AR when it cannot be read, is of an unsupported type, event, processing ID or version
  (MSH-9/11/12), or the receiving application failed for reasons unrelated to content;
* enhanced mode (MSH-15 or MSH-16 valued): the accept acknowledgment is a commit - CA once the
  message is in safe storage, CR for an unsupported MSH-9/11/12, CE when it cannot be committed
  (which of these a message gets is decided in `hl7_gateway.gateway`).

The ACK's MSH swaps sending and receiving application/facility, keeps the message's separators,
version, processing ID and MSH-18 character set; MSA-2 echoes MSH-10. From v2.5 on the error goes
into ERR-2 (location, ERL), ERR-3 (table 0357 code, CWE), ERR-4 (severity) and ERR-8 (text); before
v2.5 into ERR-1 (ELD) and MSA-3 (text), as those versions define them. A message too broken to read
MSH still gets a best-effort AR with default separators and version 2.5.1.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from hl7_gateway.charset import codec_for, encode
from hl7_gateway.errors import TABLE_0357, HL7Error
from hl7_gateway.message import Header, Separators

__all__ = ["ACK_CODES", "build_ack", "batch_ack", "control_id"]

ACK_CODES = ("AA", "AE", "AR", "CA", "CE", "CR")
DEFAULT_VERSION = "2.5.1"
_ERR_SEGMENT_FROM = (2, 5)


def control_id() -> str:
    """A fresh message control ID for an outgoing ACK (20 characters, the v2.5 length of MSH-10)."""
    return "A" + secrets.token_hex(10)[:19]


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (2, 5, 1)


def build_ack(header: Header | None, ack_code: str, errors: Sequence[HL7Error] = (), *,
              text: str = "", now: datetime | None = None, ack_control_id: str | None = None) -> bytes:
    """An ACK for a message whose MSH is `header` (None when even MSH could not be read)."""
    if ack_code not in ACK_CODES:
        raise ValueError(f"{ack_code!r} is not an acknowledgment code (table 0008)")
    header = header or Header()
    seps = header.separators
    version = header.version or DEFAULT_VERSION
    numeric = _version_tuple(version)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%z") or "0"
    f, c = seps.field, seps.component
    event = seps.escape_text(header.trigger_event)
    message_type = f"ACK{c}{event}{c}ACK" if numeric >= (2, 3, 1) else (f"ACK{c}{event}" if event else "ACK")
    msh = [
        "MSH", seps.encoding_characters, header.receiving_application, header.receiving_facility,
        header.sending_application, header.sending_facility, stamp, "", message_type,
        ack_control_id or control_id(), seps.escape_text(header.processing_id or "P"), version,
    ]
    codec = codec_for(header.charset) if header.charset else None
    if codec is not None:
        msh += ["", "", "", "", "", seps.escape_text(header.charset)]
    else:
        codec = "ascii" if not header.charset else "utf-8"
    segments = [f.join(msh)]
    message_text = text or "; ".join(f"{e.location}: {e.diagnostics}" if e.location else e.diagnostics
                                     for e in errors)
    msa = ["MSA", ack_code, seps.escape_text(header.control_id)]
    legacy = numeric < _ERR_SEGMENT_FROM
    if legacy and message_text and ack_code not in ("AA", "CA"):
        msa.append(seps.escape_text(message_text[:80]))
    segments.append(f.join(msa))
    for error in errors:
        segments.append(_err_legacy(error, seps) if legacy else _err(error, seps))
    return encode("\r".join(segments) + "\r", codec)


def _err(error: HL7Error, seps: Separators) -> str:
    """ERR for v2.5+: ERR-2 error location (ERL), ERR-3 code (CWE, table 0357), ERR-4 severity, ERR-8 text."""
    f, c = seps.field, seps.component
    location = ""
    if error.location is not None:
        loc = error.location
        parts = [loc.segment, str(loc.sequence), _num(loc.field), _num(loc.repetition), _num(loc.component),
                 _num(loc.subcomponent)]
        location = c.join(parts).rstrip(c)
    code = c.join([str(error.code), seps.escape_text(TABLE_0357[error.code]), "HL70357"])
    return f.join(["ERR", "", location, code, error.severity, "", "", "", seps.escape_text(error.diagnostics)])


def _err_legacy(error: HL7Error, seps: Separators) -> str:
    """ERR-1 for v2.3-2.4: error code and location (ELD) - segment^sequence^field^code&text&HL70357."""
    c, s = seps.component, seps.subcomponent
    loc = error.location
    code = s.join([str(error.code), seps.escape_text(TABLE_0357[error.code]), "HL70357"])
    parts = [loc.segment if loc else "", str(loc.sequence) if loc else "", _num(loc.field) if loc else "", code]
    return seps.field.join(["ERR", c.join(parts)])


def _num(value: int | None) -> str:
    return "" if value is None else str(value)


def batch_ack(acks: Sequence[bytes], *, batch_header: bytes | None, file_header: bytes | None,
              now: datetime | None = None) -> bytes:
    """The response to a batch (§2.10.3.2): the messages' ACKs wrapped in BHS/BTS (and FHS/FTS for a file)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%z")

    def header(name: bytes, original: bytes | None, control_field: int) -> bytes:
        original = original or name + b"|^~\\&"
        sep = original[3:4]
        fields = original.split(sep)
        encoding = fields[1] if len(fields) > 1 else b"^~\\&"

        def at(number: int) -> bytes:
            return fields[number - 1] if number - 1 < len(fields) else b""

        out = [name, encoding, at(5), at(6), at(3), at(4), stamp.encode("ascii"), b"", b"", b"",
               control_id().encode("ascii")]
        out.append(at(control_field))  # BHS-12 / FHS-12: reference to the sender's batch/file control ID
        return sep.join(out)

    body = [ack.rstrip(b"\r") for ack in acks if ack]
    parts: list[bytes] = []
    if file_header is not None:
        parts.append(header(b"FHS", file_header, 11))
    parts.append(header(b"BHS", batch_header, 11))
    parts.extend(body)
    sep = (batch_header or b"BHS|")[3:4]
    parts.append(sep.join([b"BTS", str(len(body)).encode("ascii")]))
    if file_header is not None:
        parts.append(sep.join([b"FTS", b"1"]))
    return b"\r".join(parts) + b"\r"
