"""hl7_gateway.ack: AA/AE/AR and CA/CE/CR messages (HL7 v2.5.1 §2.9, ERR §2.15.5, table 0357)."""

from __future__ import annotations

from datetime import UTC, datetime

from hl7_gateway import ContentError, ErrorLocation, ParseError, build_ack, parse_message, peek_header
from hl7_gateway.ack import batch_ack
from tests.hl7_gateway.conftest import sample

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def segments(ack: bytes, encoding: str = "ascii") -> list[list[str]]:
    text = ack.decode(encoding)
    assert text.endswith("\r")
    return [line.split(text[3]) for line in text.rstrip("\r").split("\r")]


def test_aa_swaps_sender_and_receiver_and_echoes_msh10() -> None:
    header = parse_message(sample("16_v2tofhir")).header
    msh, msa = segments(build_ack(header, "AA", now=NOW, ack_control_id="ACK1"), "utf-8")
    assert msh[1] == "^~\\&#"  # the message's own encoding characters
    assert msh[2:6] == ["OrdApp^1.2.3.4.5^ISO", "OrdFac^2.3.4.4^ISO", "LabApp^9.8.7.6.5^ISO", "LabFac^8.7.6.4^ISO"]
    assert msh[6] == "20240506070809+0000"
    assert msh[8] == "ACK^R01^ACK" and msh[9] == "ACK1" and msh[10] == "P" and msh[11] == "2.5.1"
    assert msh[17] == "UNICODE UTF-8"
    assert msa == ["MSA", "AA", "20251014154001-425"]


def test_ae_in_v25_and_later_uses_err_2_err_3_err_4() -> None:
    header = parse_message(sample("16_v2tofhir")).header
    error = ContentError("OBX-3 is required", code=101, location=ErrorLocation("OBX", 2, 3, 1, 1))
    _, msa, err = segments(build_ack(header, "AE", [error], now=NOW), "utf-8")
    assert msa == ["MSA", "AE", "20251014154001-425"]
    assert err[2] == "OBX^2^3^1^1"
    assert err[3] == "101^Required field missing^HL70357"
    assert err[4] == "E" and err[8] == "OBX-3 is required"


def test_ae_before_v25_uses_msa3_and_err1() -> None:
    header = parse_message(sample("01_python-hl7")).header  # v2.4
    error = ContentError("value type 'FN' is not in HL7 table 0125", code=103, location=ErrorLocation("OBX", 2, 2))
    _, msa, err = segments(build_ack(header, "AE", [error], now=NOW))
    assert msa[:3] == ["MSA", "AE", "CNTRL-3456"]
    assert msa[3] == "OBX[2]-2: value type 'FN' is not in HL7 table 0125"
    assert err == ["ERR", "OBX^2^2^103&Table value not found&HL70357"]


def test_separators_and_escaping_follow_the_message() -> None:
    header = parse_message(sample("07_python-hl7_nonstandard"), strict=False).header
    ack = build_ack(header, "AR", [ParseError("bad $ and % here", code=101)], now=NOW)
    assert ack.startswith(b"MSH$%~\\&$")
    assert b"bad \\F\\ and \\S\\ here" in ack


def test_best_effort_ar_for_unreadable_messages() -> None:
    ack = build_ack(peek_header(b"WRONG"), "AR", [ParseError("a message must start with MSH")], now=NOW)
    msh, msa, err = segments(ack)
    assert msh[1] == "^~\\&" and msh[11] == "2.5.1"
    assert msa == ["MSA", "AR", ""]
    assert err[3] == "100^Segment sequence error^HL70357"


def test_commit_acks() -> None:
    header = parse_message(sample("19_v2tofhir")).header
    for code in ("CA", "CE", "CR"):
        assert segments(build_ack(header, code, now=NOW))[1][:2] == ["MSA", code]


def test_warnings_travel_with_an_aa() -> None:
    header = parse_message(sample("16_v2tofhir")).header
    warning = ContentError("dropped", code=102, location=ErrorLocation("PID", 1, 7, 1), severity="W")
    err = segments(build_ack(header, "AA", [warning], now=NOW), "utf-8")[2]
    assert err[4] == "W"


def test_batch_ack_wraps_the_acks() -> None:
    acks = [b"MSH|^~\\&|A\rMSA|AA|1\r", b"", b"MSH|^~\\&|A\rMSA|AE|2\r"]
    text = batch_ack(acks, batch_header=b"BHS|^~\\&|S|SF|R|RF|2024||||B1", file_header=None, now=NOW)
    lines = text.decode().rstrip("\r").split("\r")
    assert lines[0].startswith("BHS|^~\\&|R|RF|S|SF|20240506070809+0000|")
    assert lines[0].endswith("|B1")
    assert lines[-1] == "BTS|2"
