"""hl7_gateway.parse: separators from MSH, escapes, repetitions, charsets, line endings, header checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import hl7
import pytest

from hl7_gateway import (
    EncodingCharactersError,
    ErrorLocation,
    ParseError,
    UnsupportedMessage,
    parse_message,
    peek_header,
)
from hl7_gateway.errors import HL7Error
from hl7_gateway.escape import unescape
from hl7_gateway.message import Repetition
from hl7_gateway.parse import read_separators, split_segments
from tests.hl7_gateway.conftest import MESSAGES, sample

MSH = "MSH|^~\\&|LAB|FAC|GW|HOSP|20240102030405||ORU^R01^ORU_R01|CTRL1|P|2.5.1"


def parse_text(text: str) -> object:
    return parse_message(text.encode("utf-8"))


def test_python_hl7_sample_fields_components_and_repetitions() -> None:
    message = parse_message(sample("06_python-hl7"))
    pid = message.segment("PID")
    assert pid is not None
    assert pid.value(1) == "Field1"
    assert pid.value(2, 2) == "Component2"
    assert pid.value(3, 2, 2) == "Sub-Component2"
    assert [rep.text for rep in pid.repetitions(4)] == ["Repeat1", "Repeat2"]
    assert message.header.kind == "ORU^R01" and message.header.version == "2.4"


def test_separators_are_read_from_msh_every_time() -> None:
    message = parse_message(sample("07_python-hl7_nonstandard"), strict=False)
    assert message.separators.field == "$" and message.separators.component == "%"
    pid = message.segment("PID")
    assert pid is not None and pid.value(3) == "555-44-4444"
    assert pid.value(5, 1) == "EVERYWOMAN" and pid.value(5, 2) == "EVE" and pid.value(5, 6) == "L"


def test_truncation_character_of_v27_is_accepted_and_kept() -> None:
    message = parse_message(sample("16_v2tofhir"))
    assert message.separators.encoding_characters == "^~\\&#"
    assert message.header.sending_application == "LabApp^9.8.7.6.5^ISO"
    assert message.header.control_id == "20251014154001-425"


@pytest.mark.parametrize("line, reason", [
    ("MSH|^~\\|", "not 3"),
    ("MSH|^~\\&#$|", "not 6"),
    ("MSH|&&&&|", "must all differ"),
    ("MSH|^~\\\\&|", "must all differ"),
    ("MSHA^~\\&|", "letter"),
    ("MSH|^~\\ |", "letter, digit or space"),
])
def test_bad_encoding_characters_are_refused_with_location(line: str, reason: str) -> None:
    with pytest.raises(EncodingCharactersError) as raised:
        read_separators(line)
    assert reason in str(raised.value)
    assert raised.value.code == 102 and raised.value.ack_code == "AR"


def test_escape_sequences() -> None:
    seps = {"field": "|", "component": "^", "repetition": "~", "escape_char": "\\", "subcomponent": "&"}
    text = "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\g\\H\\bold\\N\\\\X41C3A9\\\\X0D0A\\"
    assert unescape(text, **seps, codec="utf-8") == "a|b^c&d~e\\f\ngboldAé\r\n"
    assert unescape("lone \\ escape", **seps) == "lone \\ escape"
    assert unescape("\\Zlocal\\x\\Q\\", **seps) == "x\\Q\\"


def test_escaped_separators_never_split_a_field() -> None:
    message = parse_text(MSH + "\rPID|1||123^^^HOSP^MR||Smith\\S\\Jones^Ann\\T\\Mary\rNTE|1||line1\\.br\\line2")
    pid = message.segment("PID")  # type: ignore[attr-defined]
    assert pid.value(5, 1) == "Smith^Jones" and pid.value(5, 2) == "Ann&Mary"
    assert message.segment("NTE").value(3) == "line1\nline2"  # type: ignore[attr-defined]


def test_repetition_escape_in_spm_14_of_ig_sample() -> None:
    spm = parse_message(sample("18_v2tofhir")).segment("SPM")
    assert spm is not None
    assert spm.value(14) == "This is a wonderful blood sample.~My first blood draw!"


def test_hl7_null_reads_empty_but_is_known() -> None:
    pid = parse_message(sample("02_python-hl7")).segment("PV1")
    assert pid is not None
    assert pid.value(9) == "" and pid.field(9).is_null


@pytest.mark.parametrize("terminator", ["\r", "\n", "\r\n"])
def test_segment_terminators_from_sloppy_senders(terminator: str) -> None:
    text = terminator.join([MSH, "PID|1||123^^^HOSP^MR", "OBR|1||F1|GLU^Glucose^L"]) + terminator
    message = parse_text(text)
    assert [seg.name for seg in message.segments] == ["MSH", "PID", "OBR"]  # type: ignore[attr-defined]


def test_a_line_that_does_not_start_a_segment_continues_the_previous_one() -> None:
    assert split_segments("MSH|x\rOBX|1|TX|C||first line\nsecond line\rNTE|1", "|") == [
        "MSH|x", "OBX|1|TX|C||first line\nsecond line", "NTE|1"]


def test_charset_fallback_when_msh18_is_wrong() -> None:
    message = parse_message(sample("17_v2tofhir"))  # declares ASCII, carries UTF-8 (U+FFFD)
    assert message.codec == "utf-8"
    assert message.warnings and "MSH-18 declares ASCII" in message.warnings[0]
    in1 = message.segment("IN1")
    assert in1 is not None and "\ufffd" in in1.value(10)


def test_declared_latin1_and_unknown_charsets() -> None:
    latin1 = (MSH + "||||||8859/1\rPID|1||1^^^H^MR||M\xfcller").encode("iso8859-1")
    message = parse_message(latin1)
    assert message.codec == "iso8859-1" and not message.warnings
    assert message.segment("PID").value(5) == "Müller"  # type: ignore[union-attr]
    bogus = (MSH + "||||||KLINGON\rPID|1||1^^^H^MR||M\xfcller").encode("utf-8")
    message = parse_message(bogus)
    assert message.codec == "utf-8" and "not in HL7 table 0211" in message.warnings[0]
    undeclared_cp1252 = (MSH + "\rPID|1||1^^^H^MR||O\x92Brien").encode("latin-1")
    assert parse_message(undeclared_cp1252).segment("PID").value(5) == "O\u2019Brien"  # type: ignore[union-attr]


def test_utf16_message_is_recognised() -> None:
    message = parse_message((MSH + "||||||UNICODE UTF-16\rPID|1||1^^^H^MR||Ł").encode("utf-16"))
    assert message.segment("PID").value(5) == "Ł"  # type: ignore[union-attr]


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8"])
def test_supported_versions(version: str) -> None:
    assert parse_text(MSH.replace("2.5.1", version)).header.version == version  # type: ignore[attr-defined]


@pytest.mark.parametrize("change, error, code, location", [
    (("2.5.1", "2.2"), UnsupportedMessage, 203, ErrorLocation("MSH", 1, 12, 1, 1)),
    (("2.5.1", "3.0"), UnsupportedMessage, 203, ErrorLocation("MSH", 1, 12, 1, 1)),
    (("|P|", "|X|"), UnsupportedMessage, 202, ErrorLocation("MSH", 1, 11, 1, 1)),
    (("ORU^R01^ORU_R01", ""), UnsupportedMessage, 101, ErrorLocation("MSH", 1, 9, 1, 1)),
    (("CTRL1", ""), ParseError, 101, ErrorLocation("MSH", 1, 10, 1)),
])
def test_header_checks(change: tuple[str, str], error: type[Exception], code: int, location: ErrorLocation) -> None:
    with pytest.raises(error) as raised:
        parse_text(MSH.replace(*change))
    assert raised.value.code == code  # type: ignore[attr-defined]
    assert raised.value.location == location  # type: ignore[attr-defined]


def test_not_hl7_at_all() -> None:
    for raw in (b"", b"   \r\n", b"GET / HTTP/1.1\r\n", b"PID|1|x"):
        with pytest.raises(ParseError):
            parse_message(raw)


def test_a_header_segment_inside_a_message_is_refused() -> None:
    with pytest.raises(ParseError, match="MSH segment inside a message"):
        parse_message((MSH + "\rPID|1\r" + MSH).encode())


def test_peek_header_reads_even_broken_headers() -> None:
    header = peek_header(sample("bad_cdc_Lyme"))
    assert header is not None
    assert header.control_id == "MESSAGE CONTROL ID" and header.sending_application.startswith("SendAppName")
    assert header.separators.encoding_characters == "^~\\&"  # the message's own are unusable
    assert peek_header(b"WRONG") is None and peek_header(b"") is None
    assert peek_header(sample("bad_hl7apy_MSH_no_control_id")).control_id == ""  # type: ignore[union-attr]


def test_segment_sequence_numbers_and_error_locations() -> None:
    message = parse_message(sample("16_v2tofhir"))
    observations = message.all("OBX")
    assert [obx.sequence for obx in observations] == [1, 2, 3]
    assert str(observations[2].location(5, 1)) == "OBX[3]-5.1"



def _python_hl7_fields(node: object, text: Callable[[str], str]) -> tuple[Repetition, ...]:
    """python-hl7's nesting (a str, or lists of str at uneven depths) as repetitions, `text` applied."""
    if isinstance(node, str):
        return (Repetition(((text(node),),)),)
    reps: list[Repetition] = []
    for rep in node:  # type: ignore[attr-defined]
        if isinstance(rep, str):
            reps.append(Repetition(((text(rep),),)))
            continue
        reps.append(Repetition(tuple((text(comp),) if isinstance(comp, str) else tuple(text(str(sub)) for sub in comp)
                                     for comp in rep)))
    return tuple(reps)


@pytest.mark.parametrize("path", sorted(MESSAGES.iterdir()), ids=lambda p: p.name)
def test_fields_split_as_python_hl7_splits_them(path: Path) -> None:
    """For every sample, the fields, repetitions, components and subcomponents are python-hl7's,
    escapes resolved in each subcomponent."""
    try:
        message = parse_message(path.read_bytes())
    except HL7Error:
        return
    seps = message.header.separators

    def text(value: str) -> str:
        return unescape(value, field=seps.field, component=seps.component, repetition=seps.repetition,
                        escape_char=seps.escape, subcomponent=seps.subcomponent, codec=message.codec)

    # each segment's line again (MSH's raw fields hold MSH-1, the field separator, as a field of its own)
    lines = [seps.field.join([segment.raw_fields[0], *segment.raw_fields[2:]]) if segment.name == "MSH"
             else seps.field.join(segment.raw_fields) for segment in message.segments]
    parsed = hl7.parse("\r".join(lines))
    for segment, theirs in zip(message.segments, parsed, strict=True):
        for number in range(3 if segment.name == "MSH" else 1, len(segment.raw_fields)):
            assert segment.fields[number] == _python_hl7_fields(theirs[number], text), f"{segment.name}-{number}"
