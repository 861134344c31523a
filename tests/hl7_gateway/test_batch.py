"""hl7_gateway.batch: FHS/BHS/BTS/FTS envelopes and bare concatenated messages (HL7 v2.5.1 §2.10.3)."""

from __future__ import annotations

import pytest

from hl7_gateway import BatchError, parse_message, split_frame
from tests.hl7_gateway.conftest import sample


def test_single_message_is_returned_untouched() -> None:
    raw = sample("16_v2tofhir")
    frame = split_frame(raw)
    assert frame.messages == (raw,) and not frame.is_batch


def test_batch_with_bhs_bts() -> None:
    frame = split_frame(sample("03_python-hl7_batch"))
    assert frame.is_batch and len(frame.messages) == 1
    assert frame.batch_header is not None and frame.batch_header.startswith(b"BHS|")
    assert parse_message(frame.messages[0]).header.control_id == "12334456778890"


def test_file_with_two_batches() -> None:
    frame = split_frame(sample("04_python-hl7_file"))
    assert frame.is_batch and frame.file_header is not None and len(frame.messages) == 3
    assert [parse_message(m).header.control_id for m in frame.messages] == [
        "12334456778890", "12334456778891", "12334456778890"]


def test_bare_concatenated_messages() -> None:
    frame = split_frame(sample("05_python-hl7_batch_no_BHS"))
    assert frame.is_batch and frame.batch_header is None
    assert [parse_message(m).header.control_id for m in frame.messages] == ["12334456778890", "12334456778891"]


def test_messages_separated_by_blank_segments_are_split() -> None:
    frame = split_frame(sample("bad_hapi_file_13_messages"))
    assert len(frame.messages) == 13
    assert all(m.startswith(b"MSH|") for m in frame.messages)


@pytest.mark.parametrize("name, reason", [
    ("bad_python-hl7_batch_second_BHS", "BHS before the previous batch's BTS"),
    ("bad_python-hl7_file_BHS_inside", "BHS before the previous batch's BTS"),
    ("bad_python-hl7_file_FHS_inside", "FHS inside a message"),
])
def test_broken_envelopes(name: str, reason: str) -> None:
    with pytest.raises(BatchError, match=reason) as raised:
        split_frame(sample(name))
    assert raised.value.code == 100 and raised.value.ack_code == "AR"


@pytest.mark.parametrize("text, reason", [
    (b"BHS|^~\\&\rMSH|^~\\&|A\rBTS|2\r", "BTS-1 counts 2 but 1 arrived"),
    (b"BHS|^~\\&\rPID|1\rMSH|^~\\&|A\rBTS|1\r", "before any MSH"),
    (b"MSH|^~\\&|A\rBTS|1\r", "BTS without BHS"),
    (b"FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|A\rBTS|1\rFTS|1\rMSH|^~\\&|B\r", "after FTS"),
    (b"BHS|^~\\&\rBTS|0\r", "holds no message"),
])
def test_envelope_rules(text: bytes, reason: str) -> None:
    with pytest.raises(BatchError, match=reason):
        split_frame(text)
