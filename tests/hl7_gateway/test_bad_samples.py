"""Every malformed sample in samples/bad gets AR or AE (CR/CE in enhanced mode), never an exception -
fed as bytes to the gateway, and over a real MLLP socket; bytes that are not MLLP close the connection."""

from __future__ import annotations

import asyncio
import re

import pytest

from hl7_gateway import Gateway, MLLPClient, MLLPServer
from tests.hl7_gateway.conftest import BAD
from tests.hl7_gateway.test_gateway import MemoryInbox, RecordingFiler

# sample → (MSA-1, table 0357 code, ERR location) of the answer
EXPECTED = {
    "bad_cdc_Lyme_WithBadDelimiters.hl7": ("AR", "102", "MSH^1^2"),
    "bad_cdc_PHLIP_FLU_2.5.1_NO_MSH10.hl7": ("AR", "101", "MSH^1^10^1"),
    "bad_cdc_PHLIP_FLU_2.5.1_NO_MSH7.hl7": ("AE", "101", "MSH^1^7^1"),
    "bad_cdc_PHLIP_FLU_2.5.1_OBX2CWE_OBX5ST.hl7": ("AE", "103", "OBX^1^5^1^3"),
    "bad_cdc_empty_file.hl7": ("AR", "100", "MSH^1"),
    "bad_hapi_BAR_P01_MSH2_nonstandard_subcomponent_brace_LF.hl7": ("AR", "200", None),
    "bad_hapi_MSH2_three_chars_CRLF.hl7": ("AR", "102", None),
    "bad_hapi_ORU_R01_v2.2_OBX_segments_joined_with_spaces_LF.hl7": ("AR", "203", None),
    "bad_hl7apy_MSH2_duplicate_chars_v2.7.hl7": ("AR", "102", "MSH^1^2"),
    "bad_hl7apy_MSH2_three_odd_chars.hl7": ("AR", "102", "MSH^1^2"),
    "bad_hl7apy_MSH2_too_many_chars_v2.7.hl7": ("AR", "102", "MSH^1^2"),
    "bad_hl7apy_MSH9_missing.hl7": ("AR", "101", "MSH^1^9^1^1"),
    "bad_hl7apy_MSH_no_control_id_no_version.hl7": ("AR", "101", "MSH^1^10^1"),
    "bad_linuxforhealth_ORU-multiline-short-mixed.hl7": ("AE", "101", "OBX^2^3^1^1"),
    "bad_linuxforhealth_sample_win.hl7": ("AR", "102", "MSH^1^2"),
    "bad_python-hl7_batch_second_BHS_inside_message.hl7": ("AR", "100", "BHS^2"),
    "bad_python-hl7_file_BHS_inside_message.hl7": ("AR", "100", "BHS^2"),
    "bad_python-hl7_file_FHS_inside_message.hl7": ("AR", "100", "FHS^2"),
}


def answers(ack: bytes) -> list[tuple[str, str | None, str | None]]:
    """(MSA-1, table 0357 code, ERR-2 location) per MSA in an ACK or batch ACK, whatever its separators."""
    out: list[tuple[str, str | None, str | None]] = []
    for line in ack.decode("latin-1").split("\r"):
        if line.startswith("MSA"):
            out.append((line.split(line[3])[1], None, None))
        elif line.startswith("ERR") and out and out[-1][1] is None:
            code = re.search(r"(?<![\d.])(\d{3})\W(?=[A-Z][a-z])", line)
            fields = line.split(line[3])
            location = fields[2] or None if len(fields) > 3 else None  # ERR-2 (v2.5+)
            out[-1] = (out[-1][0], code.group(1) if code else None, location)
    return out


def test_every_bad_sample_is_listed() -> None:
    names = {p.name for p in BAD.iterdir() if p.suffix == ".hl7"}
    assert names - set(EXPECTED) == {"bad_hapi_file_13_messages_separated_by_blank_segments.hl7"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_bad_sample_gets_ar_or_ae(name: str) -> None:
    gateway = Gateway(inbox=MemoryInbox(), file_bundle=RecordingFiler())
    ack = await gateway.handle((BAD / name).read_bytes(), "test")
    [(code, condition, location)] = answers(ack)
    expected_code, expected_condition, expected_location = EXPECTED[name]
    assert code == expected_code
    assert condition == expected_condition
    if expected_location is not None:
        assert location == expected_location
    assert len(gateway.inbox.entries) == 1  # type: ignore[attr-defined]  # stored, never lost


async def test_thirteen_messages_in_one_stream() -> None:
    gateway = Gateway(inbox=MemoryInbox(), file_bundle=RecordingFiler())
    ack = await gateway.handle((BAD / "bad_hapi_file_13_messages_separated_by_blank_segments.hl7").read_bytes(), "t")
    codes = [code for code, _, _ in answers(ack)]
    assert len(codes) == 13
    assert codes.count("AR") == 3  # ORL^O34 unsupported, two messages without MSH-10
    assert set(codes) <= {"AA", "CA", "AE", "AR"}


async def test_bad_samples_over_a_real_socket() -> None:
    gateway = Gateway(inbox=MemoryInbox(), file_bundle=RecordingFiler())
    async with MLLPServer(gateway.handle, port=0, oversize_reply=gateway.oversize_reply) as server:
        async with await MLLPClient.connect("127.0.0.1", server.port) as client:
            for path in sorted(BAD.iterdir()):
                raw = path.read_bytes()
                if path.suffix == ".mllp":
                    await client.write(raw)  # already framed: 'WRONG' inside a correct frame
                    reply = await client.receive()
                else:
                    reply = await client.send(raw)
                assert {code for code, _, _ in answers(reply)} & {"AR", "AE"}, path.name
        # the same bytes without MLLP framing: the connection is closed, nothing is answered
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write((BAD / "bad_cdc_PHLIP_FLU_2.5.1_NO_MSH10.hl7").read_bytes())
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
