"""Reading one HL7 v2 message (ER7, "pipe and hat") into `hl7_gateway.message.Message`.

Segments are split into fields, repetitions, components and subcomponents here, by the message's own
separators, the way the `hl7` package (python-hl7) splits them (it did this until it was a third of
the gateway's parsing time; the samples under tests/hl7_gateway/samples read the same either way);
on top of that:

* separators are read from MSH-1/MSH-2 of every message and checked (HL7 v2.5.1 §2.14.9.1-2: four
  distinct encoding characters, five from v2.7 with the truncation character, §2.7.4 of v2.7);
* MSH-18 chooses the codec, with a fallback when the declaration is wrong (`hl7_gateway.charset`);
* segments may end with CR (§2.5.1), but LF and CR LF from sloppy senders are accepted, and a line
  that does not start a segment is taken as a raw line break inside the previous segment's text;
* escape sequences are resolved per subcomponent after splitting (`hl7_gateway.escape`);
* MSH-9, MSH-10 and MSH-12 must be valued and MSH-12 must name a version from 2.3 to 2.8.x.

Every failure is an `HL7Error` that says what is wrong and where.
"""

from __future__ import annotations

import re

from hl7_gateway.charset import decode, sniff_wide
from hl7_gateway.errors import EncodingCharactersError, ErrorLocation, ParseError, UnsupportedMessage
from hl7_gateway.escape import unescape
from hl7_gateway.message import Header, Message, Repetition, Segment, Separators

__all__ = ["SUPPORTED_VERSIONS", "PROCESSING_IDS", "parse_message", "peek_header", "read_separators",
           "split_segments"]

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2")
PROCESSING_IDS = ("P", "D", "T")  # HL7 table 0103
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_MSH2 = ErrorLocation("MSH", 1, 2)


def read_separators(msh_line: str) -> Separators:
    """MSH-1 and MSH-2 of a segment line starting 'MSH' (also 'BHS'/'FHS'), checked."""
    if len(msh_line) < 4:
        raise EncodingCharactersError("MSH ends before MSH-1 (field separator)", location=ErrorLocation("MSH", 1, 1))
    field_sep = msh_line[3]
    if field_sep.isalnum() or field_sep.isspace():
        raise EncodingCharactersError(f"MSH-1 field separator {field_sep!r} must not be a letter, digit or space",
                                      location=ErrorLocation("MSH", 1, 1))
    end = msh_line.find(field_sep, 4)
    chars = msh_line[4:] if end < 0 else msh_line[4:end]
    if len(chars) not in (4, 5):
        raise EncodingCharactersError(
            f"MSH-2 must hold 4 encoding characters (5 with the truncation character), not {len(chars)}: {chars!r}",
            location=_MSH2)
    every = field_sep + chars
    if len(set(every)) != len(every):
        raise EncodingCharactersError(f"MSH-1/MSH-2 separators must all differ: {every!r}", location=_MSH2)
    bad = [c for c in chars if c.isalnum() or c.isspace()]
    if bad:
        raise EncodingCharactersError(f"MSH-2 encoding character {bad[0]!r} must not be a letter, digit or space",
                                      location=_MSH2)
    return Separators(field_sep, chars[0], chars[1], chars[2], chars[3], chars[4:])


def split_segments(text: str, field_sep: str) -> list[str]:
    """Split text into segments on CR, LF or CR LF; lines that do not start a segment continue the last one."""
    segments: list[str] = []
    for line in _LINE_BREAK.split(text):
        if not line.strip():
            continue
        head = line[:3]
        starts = _SEGMENT_ID.fullmatch(head) is not None and (len(line) == 3 or line[3] == field_sep)
        if starts or not segments:
            segments.append(line)
        else:
            segments[-1] += "\n" + line
    return segments


def _first_line(text: str) -> str:
    return _LINE_BREAK.split(text, maxsplit=1)[0]


def _msh_text(raw: bytes) -> tuple[str, str | None]:
    """The text to find MSH in (byte-transparent for ASCII-compatible codecs) and a sniffed wide codec."""
    wide = sniff_wide(raw)
    text = raw.decode(wide, errors="replace") if wide else raw.decode("iso8859-1")
    return text.lstrip("\ufeff\xef\xbb\xbf \t\r\n\x00"), wide


def peek_header(raw: bytes) -> Header | None:
    """Best effort: the MSH fields of even a broken message, to address an AR; None if there is no MSH."""
    try:
        text, _ = _msh_text(raw)
        if not text.startswith("MSH") or len(text) < 4:
            return None
        line = _first_line(text)
        try:
            seps = read_separators(line)
        except EncodingCharactersError:
            if line[3].isalnum() or line[3].isspace() or line[3] in "^~\\&":
                return None
            seps = Separators(field=line[3])
            raw_fields = ["MSH", seps.field, *line[4:].split(seps.field)]
            return _header_from_raw(raw_fields, seps, keep_separators=False)
        raw_fields = ["MSH", seps.field, *line[4:].split(seps.field)]
        return _header_from_raw(raw_fields, seps)
    except Exception:  # noqa: BLE001 - a peek never fails; the caller falls back to defaults
        return None


def _header_from_raw(raw_fields: list[str], seps: Separators, keep_separators: bool = True) -> Header:
    def part(number: int, component: int = 1) -> str:
        if number >= len(raw_fields):
            return ""
        first = raw_fields[number].split(seps.repetition)[0]
        parts = first.split(seps.component)
        text = parts[component - 1] if component <= len(parts) else ""
        return _unescape(text.split(seps.subcomponent)[0], seps, "iso8859-1").strip()

    def whole(number: int) -> str:
        return raw_fields[number] if number < len(raw_fields) else ""

    return Header(
        separators=seps if keep_separators else Separators(),
        sending_application=whole(3), sending_facility=whole(4),
        receiving_application=whole(5), receiving_facility=whole(6),
        timestamp=part(7), message_type=part(9, 1), trigger_event=part(9, 2), structure=part(9, 3),
        control_id=part(10), processing_id=part(11), version=part(12),
        accept_ack_type=part(15), application_ack_type=part(16), charset=part(18),
    )


def _unescape(text: str, seps: Separators, codec: str) -> str:
    return unescape(text, field=seps.field, component=seps.component, repetition=seps.repetition,
                    escape_char=seps.escape, subcomponent=seps.subcomponent, codec=codec)


def parse_message(raw: bytes, *, strict: bool = True) -> Message:
    """Parse one message's bytes; raises an `HL7Error` subclass naming what is wrong and where.

    `strict=False` skips the MSH-9/10/11/12 checks (to read fragments, as in parser tests)."""
    text, wide = _msh_text(raw)
    if not text.strip():
        raise ParseError("the message is empty", location=ErrorLocation("MSH"))
    if not text.startswith("MSH"):
        raise ParseError(f"a message must start with MSH, not {text[:3]!r}", location=ErrorLocation("MSH"))
    seps = read_separators(_first_line(text))
    msh_line = _first_line(text)
    if msh_line.count(seps.field) < 2:
        raise ParseError("MSH ends after MSH-2", code=101, location=ErrorLocation("MSH", 1, 9))
    declared = _header_from_raw(["MSH", seps.field, *msh_line[4:].split(seps.field)], seps).charset
    warnings: list[str] = []
    if wide:
        codec, decoded_text = wide, text
    else:
        decoded = decode(raw, declared)
        codec, decoded_text = decoded.codec, decoded.text.lstrip("\ufeff \t\r\n\x00")
        if decoded.warning:
            warnings.append(decoded.warning)
    lines = split_segments(decoded_text, seps.field)
    for line in lines[1:]:
        if line.startswith(("MSH", "BHS", "FHS", "BTS", "FTS")):
            raise ParseError(f"a {line[:3]} segment inside a message; batches must be split first",
                             location=ErrorLocation(line[:3]))
    segments = _convert(lines, seps, codec)
    header = _header(segments[0], seps)
    if strict:
        _check_header(header)
    return Message(header=header, segments=tuple(segments), codec=codec, raw=raw, warnings=tuple(warnings))


def _convert(lines: list[str], seps: Separators, codec: str) -> list[Segment]:
    segments: list[Segment] = []
    counts: dict[str, int] = {}
    for index, line in enumerate(lines):
        name = line[:3]
        counts[name] = counts.get(name, 0) + 1
        if name == "MSH":
            raw_fields = ["MSH", seps.field, *line[4:].split(seps.field)]
            fields = [(), (Repetition(((seps.field,),)),), (Repetition(((seps.encoding_characters,),)),)]
            first = 3
        else:
            raw_fields = line.split(seps.field)
            fields = [()]
            first = 1
        for number in range(first, len(raw_fields)):
            fields.append(_field(raw_fields[number], seps, codec))
        segments.append(Segment(name, tuple(fields), tuple(raw_fields), counts[name], index))
    return segments


def _field(text: str, seps: Separators, codec: str) -> tuple[Repetition, ...]:
    """A field's repetitions, each a tuple of components, each a tuple of unescaped subcomponents."""
    escape = seps.escape
    if seps.repetition not in text and seps.component not in text and seps.subcomponent not in text \
            and escape not in text:
        return (Repetition(((text,),)),)  # most fields: one plain value, nothing to split
    return tuple(
        Repetition(tuple(
            tuple(_unescape(sub, seps, codec) if escape in sub else sub for sub in component.split(seps.subcomponent))
            for component in repetition.split(seps.component)))
        for repetition in text.split(seps.repetition))


def _header(msh: Segment, seps: Separators) -> Header:
    return Header(
        separators=seps,
        sending_application=msh.raw(3), sending_facility=msh.raw(4),
        receiving_application=msh.raw(5), receiving_facility=msh.raw(6),
        timestamp=msh.value(7), message_type=msh.value(9, 1), trigger_event=msh.value(9, 2),
        structure=msh.value(9, 3), control_id=msh.value(10), processing_id=msh.value(11),
        version=msh.value(12), accept_ack_type=msh.value(15), application_ack_type=msh.value(16),
        charset=msh.value(18),
    )


def _check_header(header: Header) -> None:
    """HL7 v2.5.1 §2.9.2: MSH-9, MSH-11 and MSH-12 decide whether a message is accepted at all."""
    if not header.message_type:
        raise UnsupportedMessage("MSH-9 message type is missing", code=101, location=ErrorLocation("MSH", 1, 9, 1, 1))
    if not header.control_id:
        raise ParseError("MSH-10 message control ID is missing: the message cannot be acknowledged or deduplicated",
                         code=101, location=ErrorLocation("MSH", 1, 10, 1))
    if not header.version:
        raise UnsupportedMessage("MSH-12 version ID is missing", code=101, location=ErrorLocation("MSH", 1, 12, 1, 1))
    if header.version not in SUPPORTED_VERSIONS:
        raise UnsupportedMessage(f"version {header.version} is not supported (2.3 to 2.8)", code=203,
                                 location=ErrorLocation("MSH", 1, 12, 1, 1))
    if header.processing_id and header.processing_id not in PROCESSING_IDS:
        raise UnsupportedMessage(f"processing ID {header.processing_id!r} is not P, D or T (table 0103)", code=202,
                                 location=ErrorLocation("MSH", 1, 11, 1, 1))
